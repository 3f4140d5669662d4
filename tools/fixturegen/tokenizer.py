"""CLIP BPE tokenizer cases from open_clip's SimpleTokenizer (context 77).

Copies open_clip's bpe_simple_vocab_16e6.txt.gz and writes tokenizer_cases.json:
{"cases": [{"text", "ids" (non-padding ids incl. start/end), "length", "truncated",
"tags"}], ...}. Not a script: run `python tools/make_fixtures.py --only tokenizer`.
"""
from __future__ import annotations

import json
import shutil

import open_clip
from open_clip.tokenizer import SimpleTokenizer, default_bpe

from .common import FIXTURES
from .templates import TEMPLATES

CONTEXT = 77

LONG = ("a very long description of a busy street scene with many people walking their dogs, "
        "cyclists riding past parked cars, a red double-decker bus stopping at the corner, "
        "shop windows full of colourful umbrellas, street vendors selling hot chestnuts and "
        "pretzels, pigeons on the pavement, traffic lights turning green, taxis honking, "
        "and tall glass office buildings reflecting the afternoon sun over the river")


def _cases() -> list[tuple[str, list[str]]]:
    c: list[tuple[str, list[str]]] = []

    def add(tag, *texts):
        for t in texts:
            c.append((t, [tag]))

    add("basic", "a photo of a cat.", "dog", "person", "car", "traffic light", "fire hydrant",
        "stop sign", "parking meter", "teddy bear", "hair drier", "cell phone", "wine glass",
        "hot dog", "potted plant", "dining table", "tv", "laptop", "mouse", "remote", "keyboard")
    add("case", "A PHOTO OF A DOG", "Hello World", "iPhone", "McDonald", "NaSa", "CamelCaseWord")
    add("punctuation", "hello, world!", "what?!", "wait...", "(parenthesized)", "[bracket]",
        "{brace}", "a/b\\c", "semi;colon:colon", "quote \"double\"", "hash #tag @user",
        "100% sure", "a+b=c", "snake_case_name", "dash - and -- and ---", "~tilde~ `tick`",
        "$5.99", "email@example.com", "https://example.com/path?q=1&x=2", "!!!", "...", "?")
    add("digits", "2024", "3.14159", "1,000,000", "route 66", "4k tv", "covid-19", "0",
        "007 agent", "12:30 pm", "a4 paper", "x86_64", "1st 2nd 3rd 4th")
    add("apostrophe", "don't", "it's", "they're", "we've", "I'm", "you'll", "he'd", "DON'T",
        "IT'S", "O'Neil", "rock'n'roll", "dogs' toys", "'quoted'", "can't won't shouldn't",
        "y'all", "ma'am", "'s", "'t", "the cat's pajamas")
    add("ftfy_quotes", "don\u2019t", "\u201csmart quotes\u201d", "it\u2019s the dog\u2019s",
        "\u2018single\u2019")
    add("accents", "caf\u00e9", "na\u00efve", "Z\u00fcrich", "S\u00e3o Paulo", "cr\u00e8me br\u00fbl\u00e9e",
        "pi\u00f1ata", "\u00c9cole", "fa\u00e7ade", "se\u00f1or", "\u00e5ngstr\u00f6m", "Dvo\u0159\u00e1k",
        "\u0141\u00f3d\u017a", "stra\u00dfe", "\u00e6ther", "\u00f8re",
        "cafe\u0301")  # decomposed e + combining acute (ftfy normalizes to NFC)
    add("emoji", "\U0001F436", "\U0001F44D\U0001F3FD", "\U0001F1FA\U0001F1F8", "I \u2764\ufe0f NY",
        "\U0001F600\U0001F600\U0001F600", "cat \U0001F431 and dog \U0001F436",
        "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\u2600\ufe0f sunny", "\U0001F697 car")
    add("cjk", "\u732b", "\u6771\u4eac\u30bf\u30ef\u30fc", "\ud55c\uad6d\uc5b4", "\u4e2d\u6587\u5b57",
        "\u3053\u3093\u306b\u3061\u306f", "\u30ab\u30bf\u30ab\u30ca", "\u72ac and \u732b",
        "\u5317\u4eac2008")
    add("other_scripts", "\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
        "\u03b1\u03b2\u03b3 \u03b4", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
        "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35")
    add("whitespace", "  leading spaces", "trailing spaces   ", "multiple    spaces   inside",
        "tab\tseparated", "new\nline", "crlf\r\nline", "  \t mixed \n\n whitespace \t ",
        "", " ", "   ", "a  b", "\u00a0nbsp\u00a0inside")
    add("html", "fish &amp; chips", "&lt;b&gt;bold&lt;/b&gt;", "it&#39;s", "&quot;quoted&quot;",
        "&amp;amp;", "a &amp;amp;amp; b", "&copy; 2024", "caf&eacute;", "&nbsp;x", "&#x1F436;",
        "5 &lt; 6", "AT&T", "R&D department")
    add("ftfy_width", "\uff21\uff22\uff23", "\uff11\uff12\uff13", "\ufb01sh \ufb02ower")
    add("hyphen", "t-shirt", "person-other", "wall-merged", "grass-stuff", "x-ray", "self-driving car")
    add("long", LONG, LONG.upper(), LONG + " " + LONG, " ".join(["cat"] * 80), " ".join(["dog"] * 76),
        " ".join(["dog"] * 75), ("word " * 200).strip(), "a" * 300, "\U0001F436" * 60,
        "1234567890" * 10)
    names = ["cat", "car", "person", "traffic light", "t-shirt", "caf\u00e9"]
    for i, tmpl in enumerate(TEMPLATES):
        c.append((tmpl.format(names[i % len(names)]), ["template"]))
    return c


def make(log) -> None:
    bpe = default_bpe()
    shutil.copyfile(bpe, FIXTURES / "bpe_simple_vocab_16e6.txt.gz")
    tok = SimpleTokenizer(bpe_path=bpe, context_length=CONTEXT)
    assert tok.sot_token_id == 49406 and tok.eot_token_id == 49407
    cases = []
    seen = set()
    for text, tags in _cases():
        if text in seen:
            continue
        seen.add(text)
        row = tok([text], context_length=CONTEXT)[0].tolist()
        # open_clip's module-level tokenize must agree with the class.
        assert row == open_clip.tokenize([text])[0].tolist()
        full = [tok.sot_token_id] + tok.encode(text) + [tok.eot_token_id]
        n = CONTEXT - row[::-1].index(tok.eot_token_id)  # position after the end token
        ids = row[:n]
        assert all(v == 0 for v in row[n:])
        assert ids == (full if len(full) <= CONTEXT else full[:CONTEXT - 1] + [tok.eot_token_id])
        cases.append({"text": text, "ids": ids, "length": len(ids),
                      "truncated": len(full) > CONTEXT, "tags": tags})
    doc = {
        "reference": f"open_clip {open_clip.__version__} SimpleTokenizer(clean='lower'), "
                     f"context_length {CONTEXT}",
        "bpe": "bpe_simple_vocab_16e6.txt.gz",
        "context_length": CONTEXT,
        "sot": tok.sot_token_id,
        "eot": tok.eot_token_id,
        "rules": "text -> ftfy.fix_text -> html.unescape twice -> strip -> collapse whitespace "
                 "-> lower; split with the CLIP pattern (IGNORECASE) "
                 "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+ ; byte-level BPE "
                 "with '</w>' on the last symbol; [sot] + ids + [eot]; if longer than 77, keep "
                 "the first 77 and set the last to eot. 'ids' lists the non-padding ids "
                 "(padding is 0).",
        "tags_note": "ftfy_* cases depend on ftfy.fix_text (curly quotes, NFC, full-width "
                     "forms, ligatures); html cases on ftfy's own HTML unescape (when the text "
                     "has no '<') followed by html.unescape twice.",
        "cases": cases,
    }
    (FIXTURES / "tokenizer_cases.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    log(f"  wrote tokenizer_cases.json ({len(cases)} cases, "
        f"{sum(c['truncated'] for c in cases)} truncated) and bpe_simple_vocab_16e6.txt.gz")
