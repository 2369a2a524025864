"""OPML import/export against the shapes real feed readers produce."""

from __future__ import annotations

import pytest

from bot.opml import OPMLError, export_opml, parse_opml

FEEDLY_STYLE = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Alice subscriptions in feedly Cloud</title></head>
  <body>
    <outline text="AI chips" title="AI chips">
      <outline type="rss" text="Silicon Ledger" title="Silicon Ledger" xmlUrl="https://ledger.example/feed"
               htmlUrl="https://ledger.example/"/>
      <outline text="Français" title="Français">
        <outline type="rss" text="Le Fil Tech" xmlUrl="https://filtech.example/rss.xml"/>
      </outline>
    </outline>
    <outline type="rss" xmlUrl="https://untitled.example/atom"/>
    <outline type="rss" text="Tom &amp;amp; Jerry" xmlUrl="https://tj.example/feed?x=1&amp;y=2"/>
    <outline type="rss" text="Again" xmlUrl="https://ledger.example/feed"/>
    <outline type="rss" text="Mail" xmlUrl="mailto:someone@example.org"/>
  </body>
</opml>"""


def test_nested_folders_missing_titles_entities_and_duplicates() -> None:
    found = parse_opml(FEEDLY_STYLE.encode())
    assert found.title == "Alice subscriptions in feedly Cloud"
    assert [(f.url, f.title, f.folders) for f in found.feeds] == [
        ("https://ledger.example/feed", "Silicon Ledger", ("AI chips",)),
        ("https://filtech.example/rss.xml", "Le Fil Tech", ("AI chips", "Français")),
        ("https://untitled.example/atom", "untitled.example", ()),
        ("https://tj.example/feed?x=1&y=2", "Tom & Jerry", ()),
    ]
    assert found.feeds[0].html_url == "https://ledger.example/"
    assert any("listed twice" in s for s in found.skipped)
    assert any("not an http(s) feed URL" in s for s in found.skipped)


@pytest.mark.parametrize(
    ("data", "title"),
    [
        ('<?xml version="1.0" encoding="ISO-8859-1"?><opml><body><outline text="Économie" '
         'xmlurl="https://eco.example/rss"/></body></opml>'.encode("latin-1"), "Économie"),
        (b"\xef\xbb\xbf" + '<opml><body><outline title="Café" xmlUrl="https://c.example/f"/></body></opml>'.encode(),
         "Café"),
        ('<?xml version="1.0" encoding="UTF-16"?><opml><body><outline text="Wide" XMLURL="https://w.example/f"/>'
         "</body></opml>".encode("utf-16"), "Wide"),
        # Declared Latin-1 but really UTF-8: the declared codec does not fail, so it wins (mojibake, not a crash).
        (b'<?xml version="1.0" encoding="windows-1252"?><opml><body><outline text="Ok" '
         b'xmlUrl="https://ok.example/f"/></body></opml>', "Ok"),
    ],
)
def test_odd_encodings_and_attribute_case(data: bytes, title: str) -> None:
    feeds = parse_opml(data).feeds
    assert len(feeds) == 1 and feeds[0].title == title


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not valid XML"),
        (b"<html><body>hi</body></html>", "root element is <html>"),
        (b"<opml><head/></opml>", "no <body>"),
        (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><opml><body>'
         b'<outline text="&lol;" xmlUrl="https://x.example/"/></body></opml>', "DTD"),
        (b'<!DOCTYPE opml SYSTEM "http://127.0.0.1:1/evil.dtd"><opml><body/></opml>', "DTD"),
    ],
)
def test_what_is_not_opml_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(OPMLError, match=reason):
        parse_opml(data)


def test_export_round_trips() -> None:
    feeds = [("Silicon Ledger", "https://ledger.example/feed"), ("Tom & \"Jerry\" <3", "https://tj.example/f?a=1&b=2")]
    document = export_opml(feeds, title="Veille & co")
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    again = parse_opml(document)
    assert again.title == "Veille & co"
    assert [(f.title, f.url) for f in again.feeds] == feeds
