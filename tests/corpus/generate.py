"""Write the robustness corpus: feed files that each carry one trick, plus manifest.json of expectations.

    .venv/bin/python -m tests.corpus.generate        # rewrites tests/corpus/feeds/ and manifest.json

Every file is named after the trick it carries (`rss2--control_chars.xml`, `enc--utf16_no_bom.xml`,
`hand--xxe_parameter_entity.xml`). Three families:

- generated: each feed format (RSS 2.0, Atom, RSS 1.0/RDF, RSS 0.91, JSON Feed) crossed with each content
  trick (HTML in titles, control characters, zero-width and RTL characters, huge fields, bad dates...);
- encodings: the same small feed in wrong, missing, exotic or byte-order-marked encodings;
- hand-written: structural tricks written out one by one (nested CDATA, mixed RSS/Atom, truncation,
  XML bombs and external entities, JSON Feed variants, not-a-feed bodies).

manifest.json maps each file to what the pipeline must do with it:
`ok` (true: the poll succeeds, false: it fails with a reason, null: either), `min_new` (articles stored at
least), `absent` (strings that must appear in no stored article), `content_type` (served as).
The output is deterministic: running the script twice gives the same bytes.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
FEEDS = HERE / "feeds"
LINK = "https://corpus.example/{n}"

# --- content tricks: (title, summary) pairs and per-item overrides --------------------------------------


@dataclass
class Item:
    title: str = "Broadcom ships a custom AI accelerator"
    summary: str = "<p>Broadcom said on Tuesday that its new custom accelerator is shipping to a cloud customer.</p>"
    link: str | None = None
    guid: str | None = None
    date: str | None = "Tue, 10 Nov 2026 09:00:00 GMT"
    iso_date: str | None = "2026-11-10T09:00:00Z"
    cdata: bool = False


@dataclass
class Trick:
    items: list[Item]
    ok: bool | None = True
    min_new: int = 1
    absent: list[str] = field(default_factory=list)


def _items(n: int, make: Callable[[int], Item]) -> list[Item]:
    return [make(i) for i in range(n)]


ZW = "\u200b\u200c\u200d\u2060\ufeff"
RTL = "\u202e\u202b\u200f\u061c"
CONTROL = "".join(chr(c) for c in range(0x01, 0x20) if c not in (0x09, 0x0A, 0x0D)) + "\x7f\x85\x9f"

CONTENT_TRICKS: dict[str, Trick] = {
    "plain": Trick(_items(3, lambda i: Item(title=f"Nvidia story number {i}", link=LINK.format(n=i)))),
    "html_in_title": Trick(
        [Item(title="<b>Bold</b> <script>alert(1)</script> &lt;i&gt;escaped&lt;/i&gt; <a href='javascript:x'>a</a>")],
        absent=["<script", "alert(1)"],
    ),
    "html_in_title_cdata": Trick(
        [Item(title="<img src=x onerror=alert(1)>Chips <em>now</em>", cdata=True)], absent=["onerror"]
    ),
    "markdown_and_mentions": Trick(
        [Item(title="@everyone **bold** __u__ ~~s~~ `code` ||spoiler|| <@123> <#456> <@&789> [x](http://evil)")]
    ),
    "control_chars": Trick([Item(title="Ctrl" + CONTROL[:8] + "title", summary="Body " + CONTROL + " end")], ok=None,
                           min_new=0),
    "null_bytes": Trick([Item(title="Null\x00byte title", summary="a\x00b\x00c")], ok=None, min_new=0),
    "zero_width_rtl": Trick(
        [Item(title=f"Bro{ZW}adcom {RTL}moc.live{ZW}", summary=f"<p>{RTL} mixed \u05e9\u05dc\u05d5\u05dd "
                                                              f"\u0645\u0631\u062d\u0628\u0627 {ZW}</p>")]
    ),
    "only_zero_width_title": Trick([Item(title=ZW * 3, summary="Text that carries the item.")]),
    "emoji_astral": Trick([Item(title="Chips 🚀🔥 𝕌𝕟𝕚𝕔𝕠𝕕𝕖 " + "👍🏽" * 50, summary="🧠" * 500)]),
    "huge_title": Trick([Item(title="Broadcom " * 20_000)]),
    "huge_summary": Trick([Item(summary="<p>" + "Nvidia sells accelerators to cloud providers. " * 6_000 + "</p>")]),
    "huge_single_word": Trick([Item(title="A" * 50_000, summary="B" * 200_000)]),
    "deep_nesting": Trick([Item(summary="<div>" * 3_000 + "deep text" + "</div>" * 3_000)]),
    "many_items": Trick(_items(200, lambda i: Item(title=f"Item {i} about chips", link=LINK.format(n=i),
                                                     summary=f"Short body {i}.")), min_new=150),
    "missing_title": Trick([Item(title="", summary="An item with no title but a body that says something.")]),
    "missing_link": Trick([Item(link="", guid="no-link-guid")]),
    "missing_everything": Trick([Item(title="", summary="", link="", guid="", date=None, iso_date=None)],
                                ok=None, min_new=0),
    "missing_dates": Trick([Item(date=None, iso_date=None)]),
    "invalid_dates": Trick(
        [
            Item(title="Date yesterday", date="yesterday", iso_date="yesterday", link=LINK.format(n=1)),
            Item(title="Date month 13", date="Tue, 45 Smarch 2026 25:61:61 GMT", iso_date="2026-13-45T25:61:61Z",
                 link=LINK.format(n=2)),
            Item(title="Date zero", date="0000-00-00", iso_date="0000-00-00T00:00:00Z", link=LINK.format(n=3)),
            Item(title="Date far future", date="Fri, 31 Dec 9999 23:59:59 GMT", iso_date="9999-12-31T23:59:59Z",
                 link=LINK.format(n=4)),
            Item(title="Date year one", date="Mon, 01 Jan 0001 00:00:00 GMT", iso_date="0001-01-01T00:00:00Z",
                 link=LINK.format(n=5)),
            Item(title="Date epoch number", date="1731229200", iso_date="1731229200", link=LINK.format(n=6)),
        ],
        min_new=6,
    ),
    "relative_urls": Trick(
        [
            Item(title="Relative path", link="/articles/1", guid="rel-1"),
            Item(title="Protocol relative", link="//cdn.corpus.example/2", guid="rel-2"),
            Item(title="Dot segments", link="../../../etc/passwd", guid="rel-3"),
            Item(title="Query only", link="?id=4", guid="rel-4"),
        ],
        min_new=4,
    ),
    "hostile_links": Trick(
        [
            Item(title="Javascript link", link="javascript:alert(document.cookie)", guid="h-1"),
            Item(title="Data link", link="data:text/html,<script>alert(1)</script>", guid="h-2"),
            Item(title="File link", link="file:///etc/passwd", guid="h-3"),
            Item(title="Metadata link", link="http://169.254.169.254/latest/meta-data/", guid="h-4"),
            Item(title="Loopback link", link="http://127.0.0.1:1/admin", guid="h-5"),
            Item(title="Huge link", link="https://corpus.example/" + "a" * 20_000, guid="h-6"),
            Item(title="Spaces and quotes link", link='https://corpus.example/a b"c<d>', guid="h-7"),
        ],
        min_new=7,
    ),
    "duplicate_guids": Trick(
        _items(5, lambda i: Item(title=f"Same guid, version {i}", guid="dup-guid", link=LINK.format(n=1))),
    ),
    "duplicate_links": Trick(_items(4, lambda i: Item(title=f"Same link, title {i}", guid="", link=LINK.format(n=7)))),
    "unstable_guids": Trick(
        [Item(title=f"Guid {g!r}", guid=g, link=LINK.format(n=i)) for i, g in enumerate(["0", "null", "", " ", "id"])],
        min_new=2,
    ),
    "double_escaped": Trick([Item(title="AT&amp;amp;T &amp;lt;b&amp;gt; caf&amp;eacute;",
                                  summary="&amp;lt;p&amp;gt;double&amp;lt;/p&amp;gt;")]),
    "html_entities": Trick([Item(title="Caf&eacute; &ndash; na&iuml;ve &hellip; &nbsp; &bogus;",
                                 summary="<p>&laquo;quoted&raquo; &copy; &#x1F600; &#0; &#xD800;</p>")], ok=None,
                           min_new=0),
    "whitespace_only_fields": Trick([Item(title=" \n\t ", summary="\n\n   \n", link="  ")], ok=None, min_new=0),
    "script_style_in_summary": Trick(
        [Item(summary="<style>body{}</style><script>steal()</script><iframe src=x></iframe><p>Real text here.</p>")],
        absent=["steal()", "<script", "body{}"],
    ),
    "unclosed_html_in_summary": Trick([Item(summary="<p><b><i>never closed <table><tr><td>cell")]),
    "french_text": Trick([Item(
        title="Les puces d'IA de Broadcom arrivent chez un géant du nuage",
        summary="<p>Broadcom a annoncé mardi que sa nouvelle puce sur mesure était livrée.</p>",
    )]),
}

# --- formats --------------------------------------------------------------------------------------------


def _text(value: str, cdata: bool) -> str:
    if cdata:
        return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    return escape(value)


def _raw(value: str) -> str:
    """Insert text that is already meant as markup (entities written by the trick itself)."""
    return value


def _field(value: str, cdata: bool, raw: bool) -> str:
    return _raw(value) if raw else _text(value, cdata)


def rss2(items: list[Item], raw: bool = False) -> str:
    """Render items as RSS 2.0."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Corpus RSS</title>'
           "<link>https://corpus.example/</link><description>c</description>"]
    for n, it in enumerate(items):
        out.append("<item>")
        out.append(f"<title>{_field(it.title, it.cdata, raw)}</title>")
        link = LINK.format(n=n) if it.link is None else it.link
        if link:
            out.append(f"<link>{escape(link)}</link>")
        guid = f"rss-{n}" if it.guid is None else it.guid
        if guid:
            out.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
        if it.date:
            out.append(f"<pubDate>{escape(it.date)}</pubDate>")
        out.append(f"<description>{_field(it.summary, it.cdata, raw)}</description></item>")
    out.append("</channel></rss>\n")
    return "".join(out)


def atom(items: list[Item], raw: bool = False) -> str:
    """Render items as Atom 1.0."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
           "<title>Corpus Atom</title><id>urn:corpus</id><updated>2026-11-10T09:00:00Z</updated>"]
    for n, it in enumerate(items):
        out.append("<entry>")
        out.append(f'<title type="html">{_field(it.title, it.cdata, raw)}</title>')
        link = LINK.format(n=n) if it.link is None else it.link
        if link:
            out.append(f'<link rel="alternate" href="{escape(link, {chr(34): "&quot;"})}"/>')
        guid = f"urn:atom:{n}" if it.guid is None else it.guid
        if guid:
            out.append(f"<id>{escape(guid)}</id>")
        if it.iso_date:
            out.append(f"<updated>{escape(it.iso_date)}</updated>")
        out.append(f'<summary type="html">{_field(it.summary, it.cdata, raw)}</summary></entry>')
    out.append("</feed>\n")
    return "".join(out)


def rdf(items: list[Item], raw: bool = False) -> str:
    """Render items as RSS 1.0 (RDF) with Dublin Core dates."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
           ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
           '<channel rdf:about="https://corpus.example/"><title>Corpus RDF</title><link>https://corpus.example/</link>'
           "<description>c</description></channel>"]
    for n, it in enumerate(items):
        link = LINK.format(n=n) if it.link is None else it.link
        out.append(f'<item rdf:about="{escape(link or f"urn:rdf:{n}", {chr(34): "&quot;"})}">')
        out.append(f"<title>{_field(it.title, it.cdata, raw)}</title>")
        if link:
            out.append(f"<link>{escape(link)}</link>")
        if it.iso_date:
            out.append(f"<dc:date>{escape(it.iso_date)}</dc:date>")
        out.append(f"<description>{_field(it.summary, it.cdata, raw)}</description></item>")
    out.append("</rdf:RDF>\n")
    return "".join(out)


def rss091(items: list[Item], raw: bool = False) -> str:
    """Render items as RSS 0.91 (no guid, no dates)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="0.91"><channel><title>Corpus 0.91</title>'
           "<link>https://corpus.example/</link><description>c</description><language>en</language>"]
    for n, it in enumerate(items):
        link = LINK.format(n=n) if it.link is None else it.link
        out.append(f"<item><title>{_field(it.title, it.cdata, raw)}</title>")
        if link:
            out.append(f"<link>{escape(link)}</link>")
        out.append(f"<description>{_field(it.summary, it.cdata, raw)}</description></item>")
    out.append("</channel></rss>\n")
    return "".join(out)


def json_feed(items: list[Item], raw: bool = False) -> str:
    """Render items as JSON Feed 1.1."""
    entries = []
    for n, it in enumerate(items):
        entry: dict[str, object] = {"id": f"json-{n}" if it.guid is None else it.guid}
        link = LINK.format(n=n) if it.link is None else it.link
        if link:
            entry["url"] = link
        if it.title:
            entry["title"] = it.title
        if it.summary:
            entry["content_html"] = it.summary
        if it.iso_date:
            entry["date_published"] = it.iso_date
        entries.append(entry)
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Corpus JSON", "items": entries}
    return json.dumps(feed, ensure_ascii=False)


FORMATS: dict[str, tuple[Callable[[list[Item], bool], str], str, str]] = {
    "rss2": (rss2, "xml", "application/rss+xml"),
    "atom": (atom, "xml", "application/atom+xml"),
    "rdf": (rdf, "xml", "application/rdf+xml"),
    "rss091": (rss091, "xml", "text/xml"),
    "json": (json_feed, "json", "application/feed+json"),
}
# Tricks whose text is markup written by the trick itself (entities), inserted as is into XML formats.
RAW_TRICKS = frozenset({"double_escaped", "html_entities"})
# Characters XML 1.0 cannot carry at all: in XML formats they make the document ill-formed on purpose.
XML_ILLEGAL_TRICKS = frozenset({"control_chars", "null_bytes"})

# --- encodings ------------------------------------------------------------------------------------------

SMALL = [Item(title="Café crème: les puces “IA” de Broadcom — déjà là", link=LINK.format(n=1), guid="enc-1"),
         Item(title="Zoë’s naïve résumé — ½ price", link=LINK.format(n=2), guid="enc-2")]


def _declared(encoding: str, body: str) -> str:
    return body.replace('encoding="utf-8"', f'encoding="{encoding}"', 1)


def encoding_cases() -> dict[str, tuple[bytes, Trick]]:
    """Return the encoding family: name -> (bytes, expectation)."""
    doc = rss2(SMALL)
    ok = Trick(SMALL, min_new=2, absent=["Ã©", "â€"])
    either = Trick(SMALL, ok=None, min_new=0)
    return {
        "utf8": (doc.encode("utf-8"), ok),
        "utf8_bom": (codecs.BOM_UTF8 + doc.encode("utf-8"), ok),
        "utf8_no_declaration": (doc.replace('<?xml version="1.0" encoding="utf-8"?>\n', "").encode(), ok),
        "utf16_le_bom": (_declared("utf-16", doc).encode("utf-16"), ok),
        "utf16_be_bom": (codecs.BOM_UTF16_BE + _declared("utf-16", doc).encode("utf-16-be"), ok),
        "utf16_no_bom": (_declared("utf-16", doc).encode("utf-16-le"), either),
        "utf32_bom": (_declared("utf-32", doc).encode("utf-32"), ok),
        "latin1_declared": (_declared("iso-8859-1", doc).encode("latin-1", "replace"), either),
        "latin1_declared_as_utf8": (doc.encode("latin-1", "replace"), either),
        "utf8_declared_as_latin1": (_declared("iso-8859-1", doc).encode("utf-8"), ok),
        "cp1252_declared": (_declared("windows-1252", doc).encode("cp1252", "replace"), either),
        "unknown_encoding_name": (_declared("x-no-such-charset", doc).encode("utf-8"), either),
        "shift_jis": (_declared("shift_jis", rss2([Item(title="半導体の新しいチップ", guid="sj")])).encode("shift_jis"),
                      Trick([], ok=None, min_new=0)),
        "koi8_r": (_declared("koi8-r", rss2([Item(title="Новый чип для ИИ", guid="koi")])).encode("koi8-r"),
                   Trick([], ok=None, min_new=0)),
        "ebcdic_declared": (_declared("cp500", doc).encode("cp500", "replace"), either),
        "invalid_utf8_sequences": (doc.encode() .replace(b"Caf", b"\xc3\x28\xa0\xa1Caf"), either),
        "mixed_encodings": (doc.encode().replace("Zoë".encode(), "Zoë".encode("latin-1")), either),
        "bom_then_whitespace": (codecs.BOM_UTF8 + b"\n\n  " + doc.encode(), either),
        "whitespace_before_declaration": (b"\n\n   " + doc.encode(), either),
        "json_utf16": (json_feed(SMALL).encode("utf-16"), either),
        "json_bom": (codecs.BOM_UTF8 + json_feed(SMALL).encode(), either),
    }


# --- hand-written ---------------------------------------------------------------------------------------

RSS_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Hand</title>'
ONE_ITEM = "<item><title>Broadcom AI chip</title><link>https://corpus.example/h</link><guid>h</guid>" \
           "<description>Broadcom said its chip ships.</description></item>"
RSS_TAIL = "</channel></rss>"


def hand_cases() -> dict[str, tuple[str | bytes, Trick, str]]:
    """Return the hand-written family: name -> (body, expectation, content type)."""
    ok1 = Trick([], min_new=1)
    either = Trick([], ok=None, min_new=0)
    fail = Trick([], ok=False, min_new=0)
    xml = "application/rss+xml"
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
        + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
        + "]>\n<rss version=\"2.0\"><channel><title>Laughs &lol9;</title>"
        + "<item><title>Boom &lol9;</title><link>https://corpus.example/l</link>"
          "<description>&lol9;</description></item>" + RSS_TAIL
    )
    cases: dict[str, tuple[str | bytes, Trick, str]] = {
        "billion_laughs": (laughs, Trick([], ok=None, min_new=0, absent=["lollollol"]), xml),
        "quadratic_blowup": (
            '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 50_000 + '">]>'
            + RSS_HEAD[RSS_HEAD.index("<rss"):] + "<item><title>Q</title><link>https://corpus.example/q</link>"
            + "<description>" + "&a;" * 2_000 + "</description></item>" + RSS_TAIL,
            Trick([], ok=None, min_new=0, absent=["xxxxxxxxxxxxxxxxxxxx"]), xml),
        "xxe_file": (
            '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + RSS_HEAD[RSS_HEAD.index("<rss"):] + "<item><title>Leak &x;</title><link>https://corpus.example/x</link>"
            "<description>&x;</description></item>" + RSS_TAIL,
            Trick([], ok=None, min_new=0, absent=["root:", "/bin/"]), xml),
        "xxe_parameter_entity": (
            '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd">'
            '<!ENTITY % q "<!ENTITY leak \'%p;\'>"> %q;]>'
            + RSS_HEAD[RSS_HEAD.index("<rss"):] + "<item><title>P &leak;</title><link>https://corpus.example/p</link>"
            "<description>x</description></item>" + RSS_TAIL,
            Trick([], ok=None, min_new=0, absent=["root:"]), xml),
        "doctype_external_dtd": (
            '<?xml version="1.0"?><!DOCTYPE rss SYSTEM "file:///etc/passwd">' + RSS_HEAD[RSS_HEAD.index("<rss"):]
            + ONE_ITEM + RSS_TAIL, Trick([], min_new=1, absent=["root:"]), xml),
        "doctype_public_html": (
            '<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            '"http://my.netscape.com/publish/formats/rss-0.91.dtd">' + RSS_HEAD[RSS_HEAD.index("<rss"):]
            + ONE_ITEM + RSS_TAIL, ok1, xml),
        "doctype_bracket_in_string": (
            '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY t "]>"> <!ENTITY y SYSTEM "file:///etc/passwd">]>'
            + RSS_HEAD[RSS_HEAD.index("<rss"):] + "<item><title>B &y; &t;</title><link>https://corpus.example/b</link>"
            "<description>d</description></item>" + RSS_TAIL,
            Trick([], ok=None, min_new=0, absent=["root:"]), xml),
        "entity_in_attribute": (
            '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>E</title><entry><title>E</title>'
            '<link href="https://corpus.example/&e;"/><id>e</id><summary>s</summary></entry></feed>',
            Trick([], ok=None, min_new=0, absent=["root:"]), "application/atom+xml"),
        "xinclude": (
            RSS_HEAD.replace("<rss ", '<rss xmlns:xi="http://www.w3.org/2001/XInclude" ')
            + '<item><title>XI</title><link>https://corpus.example/xi</link>'
            '<description><xi:include href="file:///etc/passwd" parse="text"/></description></item>' + RSS_TAIL,
            Trick([], ok=None, min_new=0, absent=["root:"]), xml),
        "processing_instructions_and_comments": (
            RSS_HEAD + "<?php system('id'); ?><!-- <item><title>commented out</title></item> -->" + ONE_ITEM
            + RSS_TAIL, Trick([], min_new=1, absent=["commented out"]), xml),
        "nested_cdata": (
            RSS_HEAD + "<item><title><![CDATA[outer <![CDATA[inner]]> tail]]></title>"
            "<link>https://corpus.example/n</link><description><![CDATA[a]]]]><![CDATA[>b]]></description></item>"
            + RSS_TAIL, either, xml),
        "cdata_with_html_and_script": (
            RSS_HEAD + "<item><title><![CDATA[<b>Bold</b> title]]></title><link>https://corpus.example/c</link>"
            "<description><![CDATA[<script>evil()</script><p>Para</p>]]></description></item>" + RSS_TAIL,
            Trick([], min_new=1, absent=["evil()"]), xml),
        "unclosed_cdata": (RSS_HEAD + "<item><title><![CDATA[never closed</title>" + ONE_ITEM, either, xml),
        "truncated_mid_item": ((RSS_HEAD + ONE_ITEM + ONE_ITEM.replace(">h<", ">h2<"))[:-60], either, xml),
        "truncated_mid_tag": (RSS_HEAD + ONE_ITEM + "<item><tit", either, xml),
        "unclosed_channel": (RSS_HEAD + ONE_ITEM, either, xml),
        "mismatched_tags": (RSS_HEAD + "<item><title>Mis</link></title><link>https://corpus.example/m</title>"
                            "</item>" + RSS_TAIL, either, xml),
        "bare_ampersands": (RSS_HEAD + "<item><title>AT&T & Intel <3 R&D</title><link>https://corpus.example/a?x=1&y=2"
                            "</link><description>Q&A</description></item>" + RSS_TAIL, either, xml),
        "lt_in_text": (RSS_HEAD + "<item><title>a < b > c</title><link>https://corpus.example/lt</link></item>"
                       + RSS_TAIL, either, xml),
        "undeclared_namespace_prefix": (
            RSS_HEAD + "<item><media:title>NS</media:title><title>NS title</title><link>https://corpus.example/ns"
            "</link><dc:creator>x</dc:creator></item>" + RSS_TAIL, either, xml),
        "two_root_elements": (RSS_HEAD + ONE_ITEM + RSS_TAIL + RSS_HEAD[RSS_HEAD.index("<rss"):] + RSS_TAIL,
                              either, xml),
        "garbage_after_root": (RSS_HEAD + ONE_ITEM + RSS_TAIL + "\x00\x01 garbage <<<", either, xml),
        "rss_with_atom_entries": (
            RSS_HEAD.replace("<rss ", '<rss xmlns:atom="http://www.w3.org/2005/Atom" ')
            + '<atom:link rel="self" href="https://corpus.example/feed"/>'
            + "<atom:entry><atom:title>Atom in RSS</atom:title></atom:entry>" + ONE_ITEM + RSS_TAIL, ok1, xml),
        "atom_with_rss_items": (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Mixed</title>'
            "<item><title>RSS item in Atom</title><link>https://corpus.example/r</link></item>"
            '<entry><title>Real entry</title><link href="https://corpus.example/e"/><id>e1</id>'
            "<summary>s</summary></entry></feed>", either, "application/atom+xml"),
        "atom_without_namespace": (
            '<?xml version="1.0"?><feed><title>No NS</title><entry><title>Entry</title>'
            '<link href="https://corpus.example/nn"/><id>nn</id></entry></feed>', either, "application/atom+xml"),
        "atom_content_xhtml": (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>X</title><entry>'
            '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><b>XHTML</b> title</div></title>'
            '<link href="https://corpus.example/xh"/><id>xh</id><content type="xhtml">'
            '<div xmlns="http://www.w3.org/1999/xhtml"><p>Para <script>bad()</script></p></div></content>'
            # fastfeedparser's synthesized description keeps the script's text (shown escaped, never run).
            "</entry></feed>", Trick([], min_new=1, absent=["<script"]), "application/atom+xml"),
        "atom_base64_content": (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>B64</title><entry>'
            '<title>B64</title><link href="https://corpus.example/b64"/><id>b64</id>'
            '<content type="text/plain" mode="base64">SGVsbG8gd29ybGQ=</content></entry></feed>',
            either, "application/atom+xml"),
        "rss_items_outside_channel": (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>O</title></channel>' + ONE_ITEM + "</rss>",
            either, xml),
        "item_without_children": (RSS_HEAD + "<item/><item></item>" + ONE_ITEM + RSS_TAIL, ok1, xml),
        "channel_only": (RSS_HEAD + RSS_TAIL, Trick([], ok=None, min_new=0), xml),
        "rss_version_unknown": (RSS_HEAD.replace('version="2.0"', 'version="99"') + ONE_ITEM + RSS_TAIL, either, xml),
        "uppercase_tags": (RSS_HEAD.upper() + ONE_ITEM.upper() + RSS_TAIL.upper(), either, xml),
        "duplicate_fields_in_item": (
            RSS_HEAD + "<item><title>First</title><title>Second</title><link>https://corpus.example/1</link>"
            "<link>https://corpus.example/2</link><guid>d</guid><guid>e</guid></item>" + RSS_TAIL, ok1, xml),
        "enclosure_only_items": (
            RSS_HEAD + '<item><enclosure url="https://corpus.example/ep.mp3" type="audio/mpeg" length="1"/>'
            "<description>Podcast episode about chips.</description></item>" + RSS_TAIL, ok1, xml),
        "huge_attribute": (RSS_HEAD + f'<item><title>Attr</title><link>https://corpus.example/at</link>'
                           f'<guid isPermaLink="{"x" * 200_000}">g</guid></item>' + RSS_TAIL, either, xml),
        "ten_thousand_empty_items": (RSS_HEAD + "<item></item>" * 10_000 + ONE_ITEM + RSS_TAIL, either, xml),
        "deep_xml_nesting": (RSS_HEAD + "<item><title>Deep</title><link>https://corpus.example/d</link>"
                             + "<x>" * 5_000 + "y" + "</x>" * 5_000 + "</item>" + RSS_TAIL, either, xml),
        "html_page": ("<!DOCTYPE html><html><head><title>Not a feed</title></head><body><p>Hi</p></body></html>",
                      fail, "text/html"),
        "html_page_served_as_rss": ("<html><body><a href='/feed'>feed</a></body></html>", fail, xml),
        "xhtml_page": ('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>x</body></html>',
                       Trick([], ok=None, min_new=0), xml),
        "svg_document": ('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
                         "</svg>", Trick([], ok=None, min_new=0, absent=["alert"]), xml),
        "empty_body": ("", fail, xml),
        "whitespace_body": ("  \n\t\n  ", fail, xml),
        "plain_text": ("This is not a feed at all, just words.", Trick([], ok=None, min_new=0), "text/plain"),
        "binary_garbage": (bytes(range(256)) * 40, Trick([], ok=None, min_new=0), "application/octet-stream"),
        "png_bytes": (b"\x89PNG\r\n\x1a\n" + bytes(2000), Trick([], ok=None, min_new=0), "image/png"),
        "xml_declaration_only": ('<?xml version="1.0"?>', Trick([], ok=None, min_new=0), xml),
        "json_not_a_feed": ('{"hello": "world", "items": "nope"}', Trick([], ok=None, min_new=0), "application/json"),
        "json_array": ('[1, 2, {"title": "x"}]', Trick([], ok=None, min_new=0), "application/json"),
        "json_truncated": ('{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [{"id": "1", ',
                           Trick([], ok=None, min_new=0), "application/json"),
        "json_version_1": (json.dumps({"version": "https://jsonfeed.org/version/1", "title": "V1", "items": [
            {"id": "v1", "url": "https://corpus.example/v1", "title": "JSON v1 item", "content_text": "Plain body."}]}),
            ok1, "application/json"),
        "json_no_version": (json.dumps({"title": "NoV", "items": [
            {"id": "nv", "url": "https://corpus.example/nv", "title": "No version item"}]}),
            either, "application/json"),
        "json_wrong_types": (json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": ["not", "str"],
                                         "items": [{"id": 12345, "title": {"obj": 1}, "url": 42,
                                                    "content_html": None, "date_published": 17}]}),
                             Trick([], ok=None, min_new=0), "application/json"),
        "json_items_not_list": (json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "T",
                                            "items": {"id": "x"}}), Trick([], ok=None, min_new=0), "application/json"),
        "json_huge_nesting": ('{"version": "https://jsonfeed.org/version/1.1", "items": [' + "[" * 50_000
                              + "]" * 50_000 + "]}", Trick([], ok=None, min_new=0), "application/json"),
        "json_attachments_only": (json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "A", "items": [
            {"id": "att", "content_text": "Episode about AI chips.", "attachments": [
                {"url": "https://corpus.example/ep.mp3", "mime_type": "audio/mpeg"}]}]}), ok1, "application/json"),
        "json_html_and_mentions": (json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "@everyone",
                                               "items": [{"id": "m", "url": "https://corpus.example/m",
                                                          "title": "<b>@everyone</b> <@1> **x**",
                                                          "content_html": "<script>x()</script><p>Body</p>"}]}),
                                   Trick([], min_new=1, absent=["x()"]), "application/json"),
        "json_duplicate_ids": (json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "D", "items": [
            {"id": "same", "url": f"https://corpus.example/d{i}", "title": f"Dup {i}"} for i in range(4)]}),
            ok1, "application/json"),
        "json_surrogates": ('{"version": "https://jsonfeed.org/version/1.1", "title": "S", "items": [{"id": "s", '
                            '"url": "https://corpus.example/s", "title": "Lone \\ud800 surrogate \\udfff"}]}',
                            Trick([], ok=None, min_new=0), "application/json"),
        "json_nan_and_big_numbers": ('{"version": "https://jsonfeed.org/version/1.1", "title": NaN, "items": '
                                     '[{"id": 1e999, "title": "Big", "url": "https://corpus.example/big"}]}',
                                     Trick([], ok=None, min_new=0), "application/json"),
    }
    return cases


# --- writing --------------------------------------------------------------------------------------------


def build() -> dict[str, tuple[bytes, dict[str, object]]]:
    """Return every corpus file: name -> (bytes, manifest entry)."""
    files: dict[str, tuple[bytes, dict[str, object]]] = {}

    def add(name: str, body: str | bytes, trick: Trick, content_type: str) -> None:
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        files[name] = (data, {"ok": trick.ok, "min_new": trick.min_new, "absent": trick.absent,
                              "content_type": content_type})

    for fmt, (render, ext, content_type) in FORMATS.items():
        for trick_name, trick in CONTENT_TRICKS.items():
            raw = trick_name in RAW_TRICKS and ext == "xml"
            expect = trick
            if fmt == "rss091" and trick_name in ("duplicate_guids", "unstable_guids"):
                expect = Trick(trick.items, ok=True, min_new=1, absent=trick.absent)
            if ext == "xml" and trick_name in XML_ILLEGAL_TRICKS:
                expect = Trick(trick.items, ok=None, min_new=0, absent=trick.absent)
            add(f"{fmt}--{trick_name}.{ext}", render(trick.items, raw), expect, content_type)
    for name, (data, trick) in encoding_cases().items():
        add(f"enc--{name}.{'json' if name.startswith('json') else 'xml'}", data, trick, "application/rss+xml")
    for name, (body, trick, content_type) in hand_cases().items():
        ext = "json" if content_type.endswith("json") else "xml"
        add(f"hand--{name}.{ext}", body, trick, content_type)
    return files


def main() -> None:
    """Write tests/corpus/feeds/* and tests/corpus/manifest.json."""
    files = build()
    FEEDS.mkdir(exist_ok=True)
    for stale in FEEDS.iterdir():
        if stale.name not in files:
            stale.unlink()
    for name, (data, _) in files.items():
        (FEEDS / name).write_bytes(data)
    manifest = {name: entry for name, (_, entry) in sorted(files.items())}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(files)} files to {FEEDS}")


if __name__ == "__main__":
    main()
