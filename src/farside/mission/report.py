"""The self-contained HTML report: sections of text, embedded PNG figures and tables."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

__all__ = ["Report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d2330;background:#fafbfc;line-height:1.45}
h1{font-size:1.8em;margin-bottom:.1em} h2{border-bottom:2px solid #d0d7e2;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em} figure{margin:1em 0} figure img{max-width:100%;border:1px solid #d0d7e2;background:#fff}
figcaption{font-size:.9em;color:#555} table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
td,th{border:1px solid #d0d7e2;padding:.25em .6em;text-align:right} th{background:#eef2f7}
.meta{color:#555;font-size:.9em} nav a{margin-right:1em} code{background:#eef2f7;padding:0 .2em}
"""


@dataclass
class _Section:
    title: str
    parts: list[str] = field(default_factory=list)


class Report:
    """Collects sections; :meth:`to_html` renders one offline-viewable page (no external assets)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.sections: list[_Section] = []
        self.header: list[str] = []

    def _section(self, title: str) -> _Section:
        for s in self.sections:
            if s.title == title:
                return s
        s = _Section(title)
        self.sections.append(s)
        return s

    def add_section(self, title: str, html_body: str = "") -> None:
        """Add (or extend) a section with trusted HTML."""
        sec = self._section(title)
        if html_body:
            sec.parts.append(html_body)

    def add_text(self, title: str, text: str) -> None:
        self._section(title).parts.append(f"<p>{html.escape(text)}</p>")

    def add_figure(self, title: str, fig, *, caption: str = "", section: str | None = None, dpi: int = 110) -> None:
        """Embed a matplotlib Figure as a PNG (deterministic metadata). Stages build their figures
        with the object API (``matplotlib.figure.Figure``), never through pyplot's global state or
        a global backend switch: ``savefig`` renders through Agg for PNG whatever the backend."""
        import warnings

        buf = io.BytesIO()
        with warnings.catch_warnings():
            # matplotlib warns when placing a loc="best" legend takes over a second of wall time: on a
            # loaded machine a timing, not a problem with the figure (the placement is deterministic)
            warnings.filterwarnings("ignore", message='Creating legend with loc="best" can be slow')
            fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        self.add_png(title, buf.getvalue(), caption=caption, section=section)

    def add_png(self, title: str, png: bytes, *, caption: str = "", section: str | None = None) -> None:
        b64 = base64.b64encode(png).decode("ascii")
        cap = f"<figcaption>{html.escape(caption or title)}</figcaption>"
        self._section(section or title).parts.append(
            f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{b64}"/>{cap}</figure>')

    def add_table(self, title: str, df, *, section: str | None = None, float_format: str = "{:.4g}") -> None:
        rows = ["<table><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns) + "</tr>"]
        for rec in df.itertuples(index=False):
            cells = []
            for v in rec:
                if isinstance(v, float):
                    cells.append(float_format.format(v))
                else:
                    cells.append(html.escape(str(v)))
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        rows.append("</table>")
        sec = self._section(section or title)
        if section and section != title:
            sec.parts.append(f"<h3>{html.escape(title)}</h3>")
        sec.parts.append("".join(rows))

    def to_html(self) -> str:
        nav = " ".join(f'<a href="#s{i}">{html.escape(s.title)}</a>' for i, s in enumerate(self.sections))
        body = [f"<h1>{html.escape(self.title)}</h1>", *self.header, f"<nav>{nav}</nav>"]
        for i, s in enumerate(self.sections):
            body.append(f'<h2 id="s{i}">{html.escape(s.title)}</h2>')
            body.extend(s.parts)
        return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
                + html.escape(self.title) + f"</title><style>{_CSS}</style></head><body>"
                + "\n".join(body) + "</body></html>\n")
