"""A docxtpl template prepared once and filled many times.

docxtpl's own pre-processing makes a Word-edited document understandable by Jinja: it joins
tags that Word split across runs, turns ``{%p %}``, ``{%tr %}``, ``{%tc %}`` and ``{{r }}``
into plain Jinja around whole paragraphs, rows, cells and runs, and so on. That part is kept
as it is (its ``get_xml``, ``patch_xml``, ``get_headers_footers``, ``fix_tables`` and
``resolve_listing``); what changes is everything around it:

- the patched XML of each part and its compiled Jinja template are kept per template file,
  keyed by the file's path and the SHA-256 of its bytes, so an edited template is read again
  and an unchanged one is not patched and compiled again: in memory (the watcher publishes
  many times) and on disk in the user's cache folder (each `tonghop report` is a new process);
- the filled parts are written into a copy of the template package with :mod:`zipfile`; every
  other entry is copied as it is, instead of python-docx parsing and re-serialising them all;
- the filled XML is checked once with a strict parse, instead of opening the result again.

docxtpl re-parses the whole body to adjust table grids and drawing ids after every render.
That only matters when the template repeats table cells (``{%tc %}``, ``{% hm %}``,
``{% colspan %}``) or contains drawings; only those templates pay for it here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import marshal
import os
import re
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, Template
from lxml import etree

if TYPE_CHECKING:
    from docxtpl import DocxTemplate

__all__ = ["CompiledTemplate", "NotADocx", "Part", "compiled_template", "fill", "write_package"]

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_BODY_MARK = "tonghop-rendered-body"
# Template text (runs joined) that makes docxtpl change a table's column grid after rendering.
_GRID_TAGS = re.compile(r"\{%-?\s*(?:tc\s|hm\s*-?%\}|colspan\s)")
# A tab, newline, bell or form feed inside a run's text: the only thing resolve_listing changes.
_LISTING_CHARS = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")
# Core properties docxtpl renders (python-docx attribute names).
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")


class NotADocx(Exception):
    """The template file is not a Word package python-docx can open."""


@dataclass(frozen=True)
class Part:
    """One XML part of the package that goes through Jinja."""

    name: str  # zip entry, e.g. "word/document.xml"
    partname: str  # OPC part name, e.g. "/word/document.xml" (names the header in messages)
    source: str  # the Jinja source (docxtpl's patched XML, a newline before each paragraph)
    code: CodeType  # what Jinja compiled it to (kept on disk between runs)
    template: Template
    head: str  # text around the rendered XML: the document element around its body
    tail: str
    encoding: str
    fix_grid: bool  # docxtpl's fix_tables / fix_docpr_ids must run on the result


@dataclass(frozen=True)
class CompiledTemplate:
    path: Path
    sha256: str
    parts: tuple[Part, ...]
    base: bytes  # the template package without the parts above, as a zip
    property_code: Mapping[str, CodeType]  # core properties with tags (rarely any)
    properties: Mapping[str, Template]
    core_name: str | None  # zip entry of the core properties, when there are tags in them
    core_xml: bytes


_cache: dict[Path, CompiledTemplate] = {}
_cache_lock = threading.Lock()


def compiled_template(
    path: Path,
    make_env: Callable[[], Environment],
    annotate: Callable[[BaseException, str, str], None],
) -> tuple[CompiledTemplate, bytes]:
    """The prepared template for ``path`` and the bytes it was made from.

    Reads the file once per call (to know it is unchanged); patches and compiles it only when
    its bytes differ from the cached copy's. Raises :class:`NotADocx`, ``OSError``, or the
    Jinja error of a part after ``annotate(exc, jinja_source, partname)``.
    """
    key = Path(path).resolve()
    data = key.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached.sha256 == digest:
        return cached, data
    env = make_env()
    recipe = _recipe(make_env)
    compiled = _load(key, digest, recipe, env) if recipe else None
    if compiled is None:
        compiled = _compile(key, data, digest, env, annotate)
        if recipe:
            _store(compiled, recipe)
    with _cache_lock:
        _cache[key] = compiled
    return compiled, data


def _docxtpl(source: Any = "") -> DocxTemplate:
    from docxtpl import DocxTemplate

    return DocxTemplate(source)


def _open(data: bytes) -> DocxTemplate:
    from docx.opc.exceptions import PackageNotFoundError

    template = _docxtpl(io.BytesIO(data))
    try:
        template.init_docx()
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise NotADocx(str(exc)) from exc
    return template


def _jinja_source(patched: str) -> str:
    # as docxtpl's render_xml_part: one line per paragraph, so Jinja's line numbers say where
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", patched)


def _compile(
    path: Path,
    data: bytes,
    digest: str,
    env: Environment,
    annotate: Callable[[BaseException, str, str], None],
) -> CompiledTemplate:
    template = _open(data)
    document = template.docx
    parts: list[Part] = []

    def add(name: str, partname: str, xml: str, head: str, tail: str, encoding: str) -> None:
        source = _jinja_source(template.patch_xml(xml))
        try:
            code = env.compile(source)
        except Exception as exc:
            annotate(exc, source, partname)
            raise
        # the tags as the user typed them, before patch_xml turns {%tc %} into {% %}
        plain = re.sub(r"<[^>]+>", "", xml)
        fix_grid = bool(_GRID_TAGS.search(plain)) or "docPr" in xml
        compiled = _template(env, code)
        partname = str(partname)  # python-docx's PackURI is a str subclass marshal refuses
        parts.append(Part(name, partname, source, code, compiled, head, tail, encoding, fix_grid))

    # The body, as docxtpl renders it: only <w:body>, the rest of the document kept as is.
    root = document._element
    body = root.body
    mark = etree.Comment(_BODY_MARK)
    root.replace(body, mark)
    head, tail = template.xml_to_string(root).split(f"<!--{_BODY_MARK}-->")
    root.replace(mark, body)
    main = document.part.partname
    add(
        main[1:],
        main,
        template.get_xml(),
        XML_DECLARATION + head,
        tail,
        "utf-8",
    )

    for uri in (template.HEADER_URI, template.FOOTER_URI):
        for _, part in template.get_headers_footers(uri):
            xml = template.get_part_xml(part)
            encoding = template.get_headers_footers_encoding(xml)
            declaration = XML_DECLARATION.replace("UTF-8", encoding.upper())
            add(part.partname[1:], part.partname, xml, declaration, "", encoding)

    footnotes = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
    for part in document.part.package.parts:
        if part.content_type == footnotes:
            add(
                part.partname[1:],
                part.partname,
                part.blob.decode(),
                "",
                "",
                "utf-8",
            )

    codes: dict[str, CodeType] = {}
    core_name, core_xml = None, b""
    core = document.part.package._core_properties_part
    for attribute in _PROPERTIES:
        text = getattr(document.core_properties, attribute) or ""
        if "{{" in text or "{%" in text:
            codes[attribute] = env.compile(text)
    if codes:
        core_name, core_xml = str(core.partname[1:]), core.blob

    rendered = {p.name for p in parts} | ({core_name} if core_name else set())
    properties = {attribute: _template(env, code) for attribute, code in codes.items()}
    base = _base_package(data, rendered)
    return CompiledTemplate(
        path, digest, tuple(parts), base, codes, properties, core_name, core_xml
    )


def _template(env: Environment, code: CodeType) -> Template:
    """What ``env.from_string`` makes, from code compiled by ``env.compile`` (maybe earlier)."""
    return env.template_class.from_code(env, code, env.make_globals(None))


# --- kept on disk between runs ---------------------------------------------------------
# Each `tonghop report` is a new process: without this, every run would import docxtpl and
# python-docx, patch and compile the template again (about 80 ms of a 300-branch report).
# Files are named by the template's SHA-256 and hold the recipe they were made with (Python,
# Jinja and docxtpl versions, and the code that makes the environment): anything else, or a
# damaged file, is ignored and made again. Nothing is lost if the folder cannot be written.
_KEEP = 20  # prepared templates kept (one per template version)


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tonghop" / "report-templates"


def _recipe(make_env: Callable[[], Environment]) -> str | None:
    """What a prepared template depends on besides the template; ``None``: do not keep it.

    The files themselves (their size and modification time) stand for the versions of Jinja,
    docxtpl and our own code: reading the installed versions' metadata costs more than the
    rest of a small report's preparation, and docxtpl is not imported unless it is needed.
    """
    import jinja2

    try:
        found = importlib.util.find_spec("docxtpl")
        docxtpl_folder = Path(found.origin if found and found.origin else "").parent
        files = [
            Path(jinja2.__file__ or "").with_name("compiler.py"),
            docxtpl_folder / "template.py",
            Path(__file__),
            Path(sys.modules[make_env.__module__].__file__ or __file__),
        ]
        stamps = [f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
        return "|".join([sys.version, jinja2.__version__, *stamps])
    except Exception:
        return None


def _load(path: Path, digest: str, recipe: str, env: Environment) -> CompiledTemplate | None:
    try:
        stored = marshal.loads((cache_folder() / f"{digest}.bin").read_bytes())
        if stored["recipe"] != recipe:
            return None
        parts = tuple(
            Part(name, partname, source, code, _template(env, code), head, tail, enc, fix)
            for name, partname, source, code, head, tail, enc, fix in stored["parts"]
        )
        codes = stored["properties"]
        properties = {attribute: _template(env, code) for attribute, code in codes.items()}
        return CompiledTemplate(
            path, digest, parts, stored["base"], codes, properties, stored["core_name"],
            stored["core_xml"],
        )  # fmt: skip
    except Exception:  # missing, damaged or from another version: made again
        return None


def _store(compiled: CompiledTemplate, recipe: str) -> None:
    stored = {
        "recipe": recipe,
        "parts": [
            (p.name, p.partname, p.source, p.code, p.head, p.tail, p.encoding, p.fix_grid)
            for p in compiled.parts
        ],
        "properties": dict(compiled.property_code),
        "base": compiled.base,
        "core_name": compiled.core_name,
        "core_xml": compiled.core_xml,
    }
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(marshal.dumps(stored))
        os.replace(temporary, folder / f"{compiled.sha256}.bin")
        kept = sorted(folder.glob("*.bin"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in kept[_KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, ValueError):  # ValueError: marshal met something it cannot write
        Path(temporary).unlink(missing_ok=True)


def _base_package(data: bytes, leave_out: set[str]) -> bytes:
    """The template package without the entries that are rendered, compressed once."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            if item.filename not in leave_out:
                target.writestr(item, source.read(item.filename))
    return buffer.getvalue()


def fill(
    compiled: CompiledTemplate,
    context: Mapping[str, Any],
    annotate: Callable[[BaseException, str, str], None],
) -> dict[str, bytes]:
    """Every rendered entry's bytes, each checked to be well-formed XML.

    A Jinja error is passed to ``annotate`` and raised; ill-formed XML raises
    ``lxml.etree.XMLSyntaxError``.
    """
    out: dict[str, bytes] = {}
    for part in compiled.parts:
        try:
            xml = part.template.render(context)
        except Exception as exc:
            annotate(exc, part.source, part.partname)
            raise
        xml = _after_render(xml)
        if part.fix_grid:
            xml = _fix_grid(xml)
        data = (part.head + xml + part.tail).encode(part.encoding)
        _check_well_formed(data)
        out[part.name] = data
    if compiled.core_name:
        out[compiled.core_name] = _core_properties(compiled, context)
    return out


class _NoTree:
    """A parser target that keeps nothing: libxml2 still checks every byte, builds no tree."""

    def close(self) -> None:
        return None


def _check_well_formed(data: bytes) -> None:
    """Raise ``lxml.etree.XMLSyntaxError`` unless ``data`` is well-formed XML.

    Three times faster than building the tree (a 5,000-branch body is 15 MB). What it does
    not see is a namespace prefix without a declaration, which rendering cannot create: the
    template's own elements were parsed with their declarations, and values are escaped.
    """
    parser = etree.XMLParser(
        target=_NoTree(), huge_tree=True, resolve_entities=False, no_network=True
    )
    etree.fromstring(data, parser)


def _after_render(xml: str) -> str:
    """What docxtpl's render_xml_part does to Jinja's output."""
    xml = xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
    # docxtpl's escapes for a literal {{ }} or {% %}; a one-character search first, because
    # searching 15 MB for two characters costs 25 ms and most reports have no "_" at all
    if "_" in xml and ("{_" in xml or "_}" in xml):
        xml = (
            xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
        )
    # resolve_listing rewrites every paragraph with Python regexes; most reports have no text
    # with a tab or line break, and a 5,000-branch appendix then costs seconds for nothing.
    if not any(char in xml for char in "\t\a\n\f") or _LISTING_CHARS.search(xml) is None:
        return xml
    return str(_docxtpl().resolve_listing(xml))


def _fix_grid(body: str) -> str:
    template = _docxtpl()
    template.docx_ids_index = 1000
    tree = template.fix_tables(body)
    template.fix_docpr_ids(tree)
    return str(template.xml_to_string(tree))


def _core_properties(compiled: CompiledTemplate, context: Mapping[str, Any]) -> bytes:
    from docx.opc.coreprops import CoreProperties
    from docx.oxml.parser import parse_xml
    from markupsafe import Markup

    element = parse_xml(compiled.core_xml)  # python-docx's element classes, for CoreProperties
    properties = CoreProperties(element)
    for attribute, template in compiled.properties.items():
        # autoescaped for XML by Jinja; the element's text wants the plain string back
        setattr(properties, attribute, Markup(template.render(context)).unescape())
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8", standalone=True))


def write_package(compiled: CompiledTemplate, rendered: Mapping[str, bytes], target: Path) -> None:
    """The template package with the rendered entries in place of the template's."""
    with target.open("wb") as handle:
        handle.write(compiled.base)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for name, data in rendered.items():
            package.writestr(name, data)
