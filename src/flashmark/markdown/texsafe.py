"""Which TeX reaches MathJax: an allowlist of math commands and environments, so no formula can write HTML.

Anki typesets `\\(…\\)` and `\\[…\\]` with MathJax's full TeX bundle, where some commands write HTML
attributes: `\\href` (a `javascript:` link), `\\class`, `\\style`, `\\cssId`, `\\data`, `\\mmlToken` (any
attribute at all), `\\bbox` (CSS), `\\unicode`, `\\require` (loads more commands), tooltips and toggles.
A blocklist misses the next one, so a formula may use only the commands listed here; anything else
makes flashmark show the formula as text. Macros defined inside a formula (`\\newcommand`, `\\def`)
are allowed: every command they could expand to must itself be written in the formula, and is checked.
"""

from __future__ import annotations

import re

_GREEK = """
alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa varkappa lambda mu nu xi omicron
pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega digamma
Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
varGamma varDelta varTheta varLambda varXi varPi varSigma varUpsilon varPhi varPsi varOmega
"""
_SYMBOLS = """
aleph beth gimel daleth hbar hslash imath jmath ell wp Re Im partial infty nabla emptyset varnothing
forall exists nexists neg lnot top bot angle measuredangle sphericalangle triangle triangledown
square blacksquare lozenge blacklozenge bigstar blacktriangle blacktriangledown backprime prime
clubsuit diamondsuit heartsuit spadesuit flat natural sharp checkmark maltese circledS complement
eth Finv Game mho surd Box Diamond dagger ddagger S P copyright pounds yen textdollar dots ldots cdots
vdots ddots iddots dotsb dotsc dotsi dotsm dotso colon vert Vert lvert rvert lVert rVert backslash
mathsterling Bbbk diagdown diagup
"""
_OPERATORS = """
pm mp times div cdot ast star circ bullet oplus ominus otimes oslash odot bigcirc setminus smallsetminus
cap cup uplus sqcap sqcup vee wedge land lor amalg wr diamond bigtriangleup bigtriangledown triangleleft
triangleright lhd rhd unlhd unrhd dotplus ltimes rtimes leftthreetimes rightthreetimes curlywedge curlyvee
doublebarwedge barwedge veebar boxplus boxminus boxtimes boxdot circleddash circledast circledcirc
centerdot intercal Cap Cup divideontimes
sum prod coprod int iint iiint iiiint idotsint oint oiint oiiint bigcap bigcup bigsqcup bigvee bigwedge
bigodot bigoplus bigotimes biguplus intop smallint
arccos arcsin arctan arg cos cosh cot coth csc deg det dim exp gcd hom inf ker lg lim liminf limsup ln log
max min Pr sec sin sinh sup tan tanh injlim projlim varinjlim varliminf varlimsup varprojlim
operatorname operatorname* mathop mathbin mathrel mathord mathopen mathclose mathpunct mathinner
limits nolimits displaylimits
"""
_RELATIONS = """
leq le geq ge neq ne equiv approx approxeq sim simeq cong propto prec succ preceq succeq ll gg lll ggg
subset supset subseteq supseteq subsetneq supsetneq nsubseteq nsupseteq sqsubset sqsupset sqsubseteq
sqsupseteq in ni notin owns mid nmid parallel nparallel perp vdash dashv models vDash Vdash Vvdash
nvdash nvDash nVdash nVDash asymp bowtie Join smile frown doteq doteqdot fallingdotseq risingdotseq
eqcirc circeq triangleq bumpeq Bumpeq thicksim thickapprox backsim backsimeq lesssim gtrsim lessapprox
gtrapprox leqq geqq leqslant geqslant eqslantless eqslantgtr lessgtr gtrless lesseqgtr gtreqless
lesseqqgtr gtreqqless precsim succsim precapprox succapprox preccurlyeq succcurlyeq curlyeqprec
curlyeqsucc lneq gneq lneqq gneqq lnsim gnsim lnapprox gnapprox nless ngtr nleq ngeq nleqq ngeqq
nleqslant ngeqslant nprec nsucc npreceq nsucceq precneqq succneqq precnsim succnsim precnapprox
succnapprox nsim ncong subseteqq supseteqq subsetneqq supsetneqq nsubseteqq nsupseteqq varsubsetneq
varsupsetneq varsubsetneqq varsupsetneqq Subset Supset pitchfork between backepsilon therefore because
shortmid shortparallel nshortmid nshortparallel smallsmile smallfrown vartriangleleft vartriangleright
trianglelefteq trianglerighteq ntriangleleft ntriangleright ntrianglelefteq ntrianglerighteq
blacktriangleleft blacktriangleright varpropto coloneqq Coloneqq coloneq Coloneq eqqcolon Eqqcolon
eqcolon Eqcolon colonapprox Colonapprox colonsim Colonsim dblcolon ratio
"""
_ARROWS = """
leftarrow gets rightarrow to leftrightarrow Leftarrow Rightarrow Leftrightarrow longleftarrow
longrightarrow longleftrightarrow Longleftarrow Longrightarrow Longleftrightarrow implies impliedby iff
uparrow downarrow updownarrow Uparrow Downarrow Updownarrow nearrow searrow swarrow nwarrow mapsto
longmapsto hookleftarrow hookrightarrow leftharpoonup leftharpoondown rightharpoonup rightharpoondown
rightleftharpoons leftrightharpoons upharpoonleft upharpoonright downharpoonleft downharpoonright
restriction leadsto dashleftarrow dashrightarrow leftleftarrows rightrightarrows leftrightarrows
rightleftarrows Lleftarrow Rrightarrow twoheadleftarrow twoheadrightarrow leftarrowtail rightarrowtail
looparrowleft looparrowright curvearrowleft curvearrowright circlearrowleft circlearrowright Lsh Rsh
upuparrows downdownarrows multimap rightsquigarrow leftrightsquigarrow nleftarrow nrightarrow
nleftrightarrow nLeftarrow nRightarrow nLeftrightarrow xleftarrow xrightarrow xLeftarrow xRightarrow
xleftrightarrow xLeftrightarrow xhookleftarrow xhookrightarrow xmapsto xrightharpoonup xrightharpoondown
xleftharpoonup xleftharpoondown xrightleftharpoons xleftrightharpoons xtwoheadrightarrow
xtwoheadleftarrow xlongequal
"""
_STRUCTURE = """
frac dfrac tfrac cfrac genfrac binom dbinom tbinom choose over atop above brace brack sqrt root of
left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr bigm Bigm biggm Biggm
langle rangle lceil rceil lfloor rfloor lbrace rbrace lbrack rbrack lgroup rgroup lmoustache rmoustache
ulcorner urcorner llcorner lrcorner llbracket rrbracket
hat widehat check widecheck tilde widetilde acute grave dot ddot dddot ddddot breve bar vec mathring
overline underline overbrace underbrace overleftarrow overrightarrow overleftrightarrow underleftarrow
underrightarrow underleftrightarrow overset underset stackrel atop substack sideset overparen underparen
overbracket underbracket boxed fbox cancel bcancel xcancel cancelto not
text textrm textit textbf textsf texttt textnormal textup mbox hbox mathrm mathit mathbf mathsf mathtt
mathcal mathbb mathfrak mathscr mathbfcal mathnormal boldsymbol bm pmb bold rm it bf sf tt cal frak
scr Bbb mathring displaystyle textstyle scriptstyle scriptscriptstyle tiny scriptsize footnotesize small
normalsize large Large LARGE huge Huge
quad qquad enspace thinspace medspace thickspace negthinspace negmedspace negthickspace hspace kern
mkern mskip hskip space nobreakspace phantom hphantom vphantom smash mathstrut strut llap rlap clap
mathllap mathrlap mathclap cramped
color textcolor
cr newline hline hdashline cline tag notag nonumber label ref eqref intertext shortintertext
begin end arraystretch
newcommand renewcommand def let DeclareMathOperator
ce pu
"""
ALLOWED_COMMANDS = frozenset(
    " ".join((_GREEK, _SYMBOLS, _OPERATORS, _RELATIONS, _ARROWS, _STRUCTURE)).replace("operatorname*", "").split()
)

ALLOWED_ENVIRONMENTS = frozenset(
    [
        "matrix",
        "pmatrix",
        "bmatrix",
        "Bmatrix",
        "vmatrix",
        "Vmatrix",
        "smallmatrix",
        "matrix*",
        "pmatrix*",
        "bmatrix*",
        "Bmatrix*",
        "vmatrix*",
        "Vmatrix*",
        "psmallmatrix",
        "bsmallmatrix",
        "Bsmallmatrix",
        "vsmallmatrix",
        "Vsmallmatrix",
        "array",
        "subarray",
        "cases",
        "dcases",
        "rcases",
        "cases*",
        "dcases*",
        "rcases*",
        "aligned",
        "alignedat",
        "gathered",
        "split",
        "multlined",
        "align",
        "align*",
        "alignat",
        "alignat*",
        "gather",
        "gather*",
        "equation",
        "equation*",
        "multline",
        "multline*",
        "eqnarray",
        "eqnarray*",
        "flalign",
        "flalign*",
        "CD",
    ]
)

# After \color and \textcolor: a colour name or a hex code, nothing that could carry CSS.
_COLOUR = re.compile(r"\s*\{\s*(?:[A-Za-z]+|#[0-9A-Fa-f]{3}|#[0-9A-Fa-f]{6})\s*\}")
_CONTROL = re.compile(r"\\([A-Za-z]+\*?|.)", re.S)
_ENVIRONMENT = re.compile(r"\s*\{([^{}]*)\}")


def unsafe_commands(tex: str) -> list[str]:
    """The commands and environments in `tex` that are not on the allowlist, each once, in order."""
    found: dict[str, None] = {}
    for m in _CONTROL.finditer(tex):
        name = m.group(1)
        if not name[0].isascii() or not name[0].isalpha():
            continue  # \\, \{, \, and the like: no letters, no HTML
        base = name.rstrip("*")
        if base not in ALLOWED_COMMANDS and name not in ALLOWED_COMMANDS:
            found.setdefault(f"\\{name}")
        elif base in ("color", "textcolor") and not _COLOUR.match(tex, m.end()):
            found.setdefault(f"\\{base} with anything but a colour name")
        elif base in ("begin", "end"):
            env = _ENVIRONMENT.match(tex, m.end())
            if env is None or env.group(1).strip() not in ALLOWED_ENVIRONMENTS:
                found.setdefault(f"\\{base}{{{env.group(1) if env else ''}}}")
    return list(found)
