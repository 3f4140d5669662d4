#!/usr/bin/env python3
"""Write Tests/RecognizerTests/Fixtures/tokenizer_ids.json: CLIP tokenizer parity cases.

How to run (CI never does; the output is committed), in the pinned fixture environment
(tools/requirements-fixtures.txt: open-clip-torch 3.3.0, ftfy 6.3.1, regex 2026.11.19,
transformers 5.23.0):

    python tools/make_tokenizer_cases.py

For every text the file holds:
  ids                  open_clip.tokenizer.SimpleTokenizer()(text)[0] — the reference
                       row: start/end tokens, truncated, padded with 0 to 77
  ids_no_fix_encoding  only where it differs from `ids`: the same with ftfy's heuristic
                       mojibake repair off (fix_text(x, fix_encoding=False)) — what the
                       Swift side, which ports the rest of ftfy, must produce
  ids_no_ftfy          only where it differs from `ids`: with ftfy.fix_text as the identity
  cleaned              open_clip's clean-up ("lower") with fix_encoding off
  cleaned_no_ftfy      only where it differs: the clean-up with ftfy as the identity
  words                the pre-tokenization of `cleaned` (regex findall, open_clip's pattern)
At least 200 texts are ones ftfy leaves alone (no `ids_no_ftfy`).

The script also checks the documented Hugging Face conversion (vocab.json = the token ->
id table with "<|startoftext|>"/"<|endoftext|>", merges.txt = "#version: 0.2" + the
48894 merges) by loading the converted files with transformers' CLIPTokenizer and
comparing its ids with open_clip's on the texts without HTML references.
"""
import gzip
import json
import random
import tempfile
from pathlib import Path

import ftfy
import open_clip
import open_clip.tokenizer as oct
from open_clip.tokenizer import SimpleTokenizer, default_bpe

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/RecognizerTests/Fixtures/tokenizer_ids.json"

CLASSES = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush", "wall-other-merged", "sky-other-merged", "tree-merged", "grass-merged",
]
TEMPLATES = [
    "a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.",
    "a photo of the hard to see {}.", "a low resolution photo of the {}.",
    "a rendering of a {}.", "graffiti of a {}.", "a bad photo of the {}.",
    "a cropped photo of the {}.", "a tattoo of a {}.", "the embroidered {}.",
    "a photo of a hard to see {}.", "a bright photo of a {}.", "a photo of a clean {}.",
    "a photo of a dirty {}.", "a dark photo of the {}.", "a drawing of a {}.",
    "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.",
    "a close-up photo of a {}.", "a black and white photo of the {}.",
    "a painting of the {}.", "a pixelated photo of the {}.", "itap of a {}.",
    "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.", "a photo of the {}.",
    "a good photo of the {}.", "the origami {}.", "the {} in a video game.",
    "a sketch of a {}.", "a doodle of a {}.", "a origami {}.", "a low resolution photo of a {}.",
    "the toy {}.", "a rendition of the {}.", "a photo of the small {}.",
    "a photo of the large {}.", "there is a {} in the scene.", "there is the {} in the scene.",
    "this is a {} in the scene.", "this is the {} in the scene.", "this is one {} in the scene.",
]

HANDWRITTEN = [
    "", " ", "   \t\n ", "a", "A", "!", "!!", "...", "?!?!", "'", "''", "'s", "'S", "x's", "it's",
    "IT'S", "don't", "DON'T", "we're", "they've", "I'm", "you'll", "he'd", "'ll 'd 're 've 'm 't",
    "rock'n'roll", "o'clock", "'sam", "!'s", "''s", "it\u2019s", "l'amour",
    "Hello, World!", "hello    world", "  leading and trailing  ", "tabs\tand\nnewlines\r\n",
    "nbsp\u00a0here", "ideographic\u3000space", "thin\u2009space", "em\u2003space",
    "line\u2028separator", "para\u2029graph", "file\x1cseparator", "unit\x1fsep", "nel\x85line",
    "12345", "3.14159", "1,000,000", "2024-01-31", "v1.2.3-beta", "$9.99", "50%", "#1", "x2y3z",
    "\u0661\u0662\u0663", "\u0967\u0968", "\u00bd \u00bc \u00b2 \u2075", "\u2160\u2161\u2162 \u2170\u2171",
    "\u2460\u2461", "\u4e00\u4e8c\u4e09",
    # ftfy's territory: mojibake (not reproduced in Swift), quotes, width, NFC, controls
    "caf\u00c3\u00a9", "doesn\u00e2\u20ac\u2122t", "\u00c3\u00bcber alles", "\u00e2\u20ac\u0153quoted\u00e2\u20ac\x9d",
    "person\u2019s bag", "\u201cquoted\u201d word", "\u00ab\u2039single\u203a\u00bb", "don\u02bct",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\uff76\uff80\uff76\uff85", "\uff08\uff11\uff09", "\ufb00 \ufb02 \u0133",
    "Cafe\u0301", "\u1100\u1161\u11a8", "\ud6c4\u11b3", "\U00010041\u0301", "\U0001d400\u0323\u0301", "A\u030a", "\u212b", "\u2126", "\u037e",
    "P&EACUTE;REZ", "&NTILDE; &nTILDE;", "BUNDESSTRA&SZLIG;E", "&checkmark;", "&Jscr;ohn",
    "<b>&amp;amp;amp;</b>", "&amp;amp;amp;\n<b>", "<b>\n&amp;amp;amp;", "&amp;amp;amp;amp;amp;",
    "&#x92;s", "&#146;s", "&#65;&#66;", "&#xyz;", "&abcdefghijklmnopqrstuvwxyz;", "&x;",
    "\x1b[1;31mred\x1b[0m", "\x1b[mplain", "\x1b[\u0661mx", "\ufeffbom", "\u206aa\u206fb",
    "\ufff9anchor\ufffb", "vt\x0bhere", "a\r\nb\rc", "\x93quoted\x94", "\x85ellipsis",
    "line one\nline two\n", "\u00c3 alone", "\u00e9\u00e9\u00e9",
    "caf\u00e9", "CAF\u00c9", "na\u00efve r\u00e9sum\u00e9", "stra\u00dfe STRASSE", "\u00c5ngstr\u00f6m",
    "se\u00f1or pi\u00f1ata", "\u0141\u00f3d\u017a", "\u010de\u0161\u0165ina", "ma\u00f1ana",
    "\u0130stanbul", "I\u0307", "\u00df\u1e9e",
    "\u039f\u0394\u039f\u03a3", "\u03a3\u0391\u03a3 \u03a3", "\u03b1\u03b2\u03b3 \u0391\u0392\u0393", "\u03a3.\u03a3", "a\u03a3", "a\u03a3'b",
    "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\u0543\u0561\u0576",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u4e2d\u6587\u5b57\u7b26", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u732b\u3068\u72ac", "\u30ab\u30bf\u30ab\u30ca", "\u0639\u0631\u0628\u064a", "\u05e2\u05d1\u05e8\u05d9\u05ea",
    "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0e44\u0e17\u0e22", "\u1000\u103c\u1014\u103a\u1019\u102c",
    "emoji \U0001f600", "\U0001f600\U0001f601\U0001f602", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1fa\U0001f1f8 flag", "\u2764\ufe0f", "\u2764", "\U0001f408 cat", "a\U0001f4a9b", "\U0001f9d1\u200d\U0001f680",
    "\u2603 snowman", "\u2122 \u00ae \u00a9", "\u2013 \u2014 \u2026", "\u00ab quotes \u00bb",
    "<start_of_text>", "<end_of_text>", "a <end_of_text> b", "<START_OF_TEXT>", "<start_of_text",
    "<\u017ftart_of_text>", "'\u017f", "<|startoftext|>",
    "&amp;", "&lt;b&gt;bold&lt;/b&gt;", "fish &amp; chips", "fish &amp chips", "&amp;amp;",
    "&amp;amp;amp;", "&#39;s", "it&#39;s", "&#x27;t", "&#X41;", "&#65", "&#x1F600;", "&#128512;",
    "&#0;", "&#150;", "&#x80;", "&#1;", "&#xD800;", "&#99999999999;", "&#x110000;", "&#;", "&#x;",
    "&nbsp;", "a&nbsp;b", "&notit;", "&notin;", "&copy2024", "&unknown;", "& amp;", "&",
    "&&&", "&eacute;t&eacute;", "&Sigma;", "&AElig;", "&#x3a3;&#x3a3;", "&gt&lt", "&ampamp",
    "&thetasym;", "&NotNestedGreaterGreater;", "&acE;", "&fjlig;",
    "<b>bold</b>", "a < b > c", "x=y+z", "@user #tag", "foo_bar-baz", "path/to/file.txt",
    "http://example.com/a?b=c&d=e", "email@example.com", "(parentheses) [brackets] {braces}",
    "~`^|\\", "\"double quotes\"", "semi;colon", "***", "- - -", "a.b.c", "U.S.A.",
    "mixed123letters456", "\u00e9\u0301", "e\u0301", "a\u0345b", "\u0345", "\u212a",
    "\u0300start with combining", "zero\u200bwidth", "soft\u00adhyphen", "\ufb01 ligature",
    "\uff21\uff22\uff23 fullwidth", "\uff11\uff12", "\u201ccurly\u201d", "\u2018single\u2019",
    "bell\x07char", "esc\x1b[31mred", "del\x7fchar", "\u0080\u009f c1",
    "superlongwordwithoutanyspacesatalltotestthebpemergesonaverylongtoken",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "antidisestablishmentarianism",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababab", "zzzzz", "qxjzv",
]


def long_texts():
    words = "the quick brown fox jumps over the lazy dog while a photo of a cat sits".split()
    out = []
    rng = random.Random(7)
    for n in (70, 74, 75, 76, 77, 80, 150):
        out.append(" ".join(rng.choice(words) for _ in range(n)))
    out.append("a " * 75 + "end")
    out.append("a " * 74 + "end")
    out.append("1" * 100)
    out.append("\U0001f600" * 40)
    out.append("\u65e5\u672c" * 60)
    return out


def random_texts(n):
    pools = [
        "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "     \t\n",
        "\u00e0\u00e1\u00e2\u00e4\u00e7\u00e8\u00e9\u00ea\u00eb\u00ee\u00ef\u00f1\u00f4\u00f6\u00f9\u00fb\u00fc\u00ff\u00c0\u00c9\u00d6\u00dc\u00df",
        "\u03b1\u03b2\u03b3\u03b4\u03a3\u03a9\u0416\u0436\u042f\u044f",
        "\u4e00\u4eba\u5927\u5c0f\u5c71\u6c34\u3042\u3044\u30a2\u30a4\uac00\ub098",
        "\U0001f600\U0001f415\U0001f697\u2600\u2b50\U0001f3e0",
        "\u0661\u0967\u00b2\u2153\u2167",
    ]
    rng = random.Random(20261127)
    out = []
    for _ in range(n):
        k = rng.randint(1, 24)
        out.append("".join(rng.choice(rng.choice(pools)) for _ in range(k)))
    return out


def main():
    tok = SimpleTokenizer()
    assert len(tok.encoder) == 49408
    texts = list(HANDWRITTEN)
    texts += [t.format(c) for c, t in zip(CLASSES, TEMPLATES * 2)]
    texts += [c.upper() for c in CLASSES[:20]]
    texts += long_texts() + random_texts(60)
    seen = set()
    texts = [t for t in texts if not (t in seen or seen.add(t))]

    def run(fix):  # ids, cleaned text and words with ftfy.fix_text replaced by `fix`
        saved = oct.ftfy.fix_text
        oct.ftfy.fix_text = fix
        try:
            ids = [tok([t])[0].tolist() for t in texts]
            cleaned = [tok.clean_fn(t) for t in texts]
            return ids, cleaned, [oct.re.findall(tok.pat, c) for c in cleaned]
        finally:
            oct.ftfy.fix_text = saved

    real = ftfy.fix_text
    reference, _, _ = run(real)
    lite, cleaned, words = run(lambda x: real(x, fix_encoding=False))
    no_ftfy, cleaned_no_ftfy, _ = run(lambda x: x)

    cases = []
    for i, t in enumerate(texts):
        case = {"text": t, "ids": reference[i]}
        if lite[i] != reference[i]:
            case["ids_no_fix_encoding"] = lite[i]
        if no_ftfy[i] != reference[i]:
            case["ids_no_ftfy"] = no_ftfy[i]
        case["cleaned"] = cleaned[i]
        if cleaned_no_ftfy[i] != cleaned[i]:
            case["cleaned_no_ftfy"] = cleaned_no_ftfy[i]
        case["words"] = words[i]
        cases.append(case)
    same = sum(1 for c in cases if "ids_no_ftfy" not in c)
    print(f"{len(cases)} cases, {same} where ftfy changes nothing")
    assert same >= 200

    check_hugging_face_conversion(texts, reference)

    head = json.dumps({
        "generator": "tools/make_tokenizer_cases.py",
        "reference": f"open_clip_torch {open_clip.__version__} SimpleTokenizer, ftfy {ftfy.__version__}",
        "context_length": 77,
    })
    rows = ",\n".join(json.dumps(c, ensure_ascii=True, separators=(",", ":")) for c in cases)
    OUT.write_text(head[:-1] + ', "cases": [\n' + rows + "\n]}\n")  # one case per line
    print("wrote", OUT)


def check_hugging_face_conversion(texts, reference):
    from transformers import CLIPTokenizer
    merges = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    tok = SimpleTokenizer()
    vocab = dict(tok.encoder)
    vocab["<|startoftext|>"] = vocab.pop("<start_of_text>")
    vocab["<|endoftext|>"] = vocab.pop("<end_of_text>")
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
        (Path(d) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
        hf = CLIPTokenizer.from_pretrained(d)  # reads vocab.json + merges.txt
        checked = 0
        for t, ids in zip(texts, reference):
            # HF cleans differently (no html.unescape; its own handling of special tokens)
            if "&" in t or "<" in t or len(t) > 60 or not all(32 <= ord(c) < 127 for c in t):
                continue
            got = hf(t)["input_ids"]  # HF pads with <|endoftext|>, open_clip with 0: compare unpadded
            want = ids[:len(ids) - ids[::-1].index(49407)]
            assert got == want, (t, got, want)
            checked += 1
    print(f"Hugging Face conversion: {checked} texts identical")


if __name__ == "__main__":
    main()
