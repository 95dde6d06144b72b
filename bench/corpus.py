"""Generate a synthetic content folder of N questions in the sample's format, for benchmarks.

Usage: python bench/corpus.py 30000 /tmp/corpus

Files hold about 30 questions each under one `### topic` heading, in folders of 50 files.
About a fifth of the questions repeat an earlier one (same topic, or another topic with the
same answer) and a few repeat it under a near-duplicate title, so the merge stage has work.
"""

from __future__ import annotations

import argparse
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

QUESTIONS_PER_FILE = 30
FILES_PER_FOLDER = 50
REPEAT_SAME_TOPIC = 0.08
REPEAT_OTHER_TOPIC = 0.08
REPEAT_NEAR_TITLE = 0.04

AREAS = (
    "大模型开发与微调",
    "计算机视觉",
    "自然语言处理",
    "推荐系统",
    "强化学习",
    "机器学习基础",
    "分布式训练",
    "模型压缩",
)
PREFIXES = (
    "深度",
    "残差",
    "批量",
    "跨尺度",
    "自适应",
    "多头",
    "稀疏",
    "分组",
    "动态",
    "层级",
    "局部",
    "全局",
    "因果",
    "双向",
    "对比",
    "掩码",
    "混合",
    "渐进",
    "知识",
    "量化",
    "低秩",
    "门控",
    "图",
    "时序",
    "条件",
    "增量",
    "联邦",
    "对抗",
    "半监督",
    "自监督",
    "元",
    "多任务",
    "多模态",
    "轻量",
    "可变形",
    "空洞",
    "位置",
    "相对",
    "旋转",
    "共享",
)
CORES = (
    "卷积",
    "归一化",
    "注意力",
    "池化",
    "特征融合",
    "正则化",
    "学习率调度",
    "数据增强",
    "蒸馏",
    "剪枝",
    "编码",
    "解码",
    "嵌入",
    "采样",
    "优化器",
    "损失函数",
    "激活函数",
    "初始化",
    "检索",
    "对齐",
    "路由",
    "缓存",
    "预训练",
    "微调",
    "推理",
    "标注",
    "聚类",
    "降维",
    "插值",
    "平滑",
    "裁剪",
    "搜索",
    "预测",
    "重参数化",
    "分词",
    "投影",
    "门控单元",
    "残差连接",
    "跳跃连接",
    "特征金字塔",
)
SUFFIXES = ("", "网络", "机制", "策略", "方法", "模块", "算法", "技术")
FORMS = ("什么是{c}？", "如何理解{c}？", "{c}的作用是什么？", "{c}有哪些优缺点？", "{c}与传统方法相比有什么不同？")
FILLERS = (
    "它能够减少参数数量和计算量",
    "这种方式可以缓解梯度消失和梯度爆炸问题",
    "它有助于提高网络训练的稳定性和收敛速度",
    "这样网络可以学习到更复杂的特征表示",
    "它在保持精度的同时降低了推理延迟",
    "这种设计让模型更容易扩展到更大的数据集",
    "它把问题分解为两个更简单的子问题",
    "训练时需要仔细调整学习率和批量大小",
    "它对输入分布的变化更加鲁棒",
    "这使得模型具有良好的泛化能力",
    "在实践中常与数据增强和正则化一起使用",
    "它的计算可以很好地并行化",
)
USES = ("图像分类", "目标检测", "语义分割", "机器翻译", "文本分类", "语音识别", "推荐排序", "问答系统")


@dataclass(frozen=True, slots=True)
class Item:
    """One generated question: its title and its body in the sample's labelled format."""

    concept: str
    title: str
    body: str


def _concept(index: int) -> str:
    """The index-th distinct concept name (prefix × core × suffix × qualifier)."""
    p, rest = index % len(PREFIXES), index // len(PREFIXES)
    c, rest = rest % len(CORES), rest // len(CORES)
    s, q = rest % len(SUFFIXES), rest // len(SUFFIXES)
    base = f"{PREFIXES[p]}{CORES[c]}{SUFFIXES[s]}"
    return base if q == 0 else f"{base}（第{q + 1}类）"


def _sentences(rng: random.Random, concept: str, n: int) -> str:
    return "，".join(rng.sample(FILLERS, n)).replace("它", concept, 1) + "。"


def _item(rng: random.Random, index: int) -> Item:
    concept = _concept(index)
    title = FORMS[index % len(FORMS)].format(c=concept)
    body = (
        f"**题目：** 解释{concept}的概念，以及它在深度学习中的应用。\n\n"
        f"**答案：** {concept}是一种常用的技术。{_sentences(rng, concept, 2)}"
        f"与其他方法相比，{_sentences(rng, concept, 1)}\n\n"
        f"**应用：** {concept}可以用于{'、'.join(rng.sample(USES, 2))}等领域，{_sentences(rng, concept, 1)}\n\n"
        f"**举例：** 在 ResNet 中，{concept}用于构建深层的网络结构。\n"
    )
    return Item(concept, title, body)


def _near_title(item: Item) -> str:
    """A reworded title for the same question (the sample's 深度学习中的 variant)."""
    return f"什么是深度学习中的{item.concept}？"


def generate(n: int, out: Path, seed: int = 0) -> dict[str, int]:
    """Write about `n` questions into `out` (replacing it); return counts of what was written."""
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    items: list[Item] = []
    files: list[list[str]] = []
    counts = {"questions": 0, "files": 0, "repeats": 0, "near_titles": 0}
    number = 0
    while counts["questions"] < n:
        chunk: list[str] = []
        topic_concept = _concept(rng.randrange(len(PREFIXES) * len(CORES)))
        area = AREAS[len(files) % len(AREAS)]
        chunk.append(f"### {area}：{topic_concept}\n")
        same_file: list[Item] = []
        for q in range(1, QUESTIONS_PER_FILE + 1):
            if counts["questions"] >= n:
                break
            roll = rng.random()
            if same_file and roll < REPEAT_SAME_TOPIC:
                item, title = rng.choice(same_file), None
                counts["repeats"] += 1
            elif items and roll < REPEAT_SAME_TOPIC + REPEAT_OTHER_TOPIC:
                item, title = rng.choice(items), None
                counts["repeats"] += 1
            elif items and roll < REPEAT_SAME_TOPIC + REPEAT_OTHER_TOPIC + REPEAT_NEAR_TITLE:
                item = rng.choice(items)
                title = _near_title(item)
                counts["near_titles"] += 1
            else:
                item, title = _item(rng, number), None
                number += 1
                items.append(item)
            same_file.append(item)
            chunk.append(f"#### 面试题 {q}：{title or item.title}\n\n{item.body}\n")
            counts["questions"] += 1
        files.append(chunk)
    for i, chunk in enumerate(files):
        folder = out / f"part{i // FILES_PER_FOLDER:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"topic{i:05d}.md").write_text("\n".join(chunk), encoding="utf-8")
    counts["files"] = len(files)
    return counts


def generate_media(out: Path, images: int = 300, image_kb: int = 300, seed: int = 0) -> dict[str, int]:
    """Write a folder like a chapter-per-file book with figures: `images` pictures of about `image_kb` KB
    (90 MB by default), one per question, in files of 30 questions (replacing `out`)."""
    rng = random.Random(seed)
    generate(images, out, seed)  # the questions; then a figure in each answer
    figures = out / "img"
    figures.mkdir()
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452")
    n = 0
    for path in sorted(out.rglob("*.md")):
        parts = path.read_text(encoding="utf-8").split("**答案：** ")
        for i in range(1, len(parts)):
            (figures / f"fig{n:04d}.png").write_bytes(png + rng.randbytes(image_kb * 1024))
            rel = Path("..", "img", f"fig{n:04d}.png") if path.parent != out else Path("img", f"fig{n:04d}.png")
            parts[i] = f"![图 {n}]({rel.as_posix()}) " + parts[i]
            n += 1
        path.write_text("**答案：** ".join(parts), encoding="utf-8")
    return {"images": n, "bytes": n * (image_kb * 1024 + len(png))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = generate(args.questions, args.out, args.seed)
    print(", ".join(f"{v} {k}" for k, v in counts.items()), "→", args.out)


if __name__ == "__main__":
    main()
