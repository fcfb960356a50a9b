"""One self-contained HTML page: the SVG picture, pan/zoom, and each node's details on click/hover.

Nothing is fetched at view time (a Content-Security-Policy forbids it). Node details travel as
JSON inside a <script type="application/json"> block with `<`, `>` and `&` written as \\u003c,
\\u003e, \\u0026, so a name like `</script>` cannot end the block; the page shows them with
textContent, never innerHTML. The SVG text was escaped by Graphviz from escaped labels.
"""

from __future__ import annotations

import html
import json

from gradscope.capture import Capture
from gradscope.render import drawing as drawing_mod
from gradscope.render.dot import to_dot
from gradscope.render.graphviz import run_dot

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

_STYLE = """
html, body { margin: 0; height: 100%; font: 13px Helvetica, Arial, sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 6px 10px; border-bottom: 1px solid #ddd; display: flex; gap: 8px; align-items: center; }
header h1 { font-size: 14px; margin: 0; flex: 1; }
main { flex: 1; display: flex; min-height: 0; }
#view { flex: 1; overflow: hidden; cursor: grab; background: #fff; }
#view.dragging { cursor: grabbing; }
#view svg { width: 100%; height: 100%; }
#details { width: 320px; border-left: 1px solid #ddd; padding: 8px 10px; overflow: auto; }
#details dt { font-weight: bold; margin-top: 6px; }
#details dd { margin: 0 0 0 8px; white-space: pre-wrap; word-break: break-all; }
g.gs_node { cursor: pointer; }
g.gs_node.selected polygon, g.gs_node.selected ellipse, g.gs_node.selected path { stroke: #ff6f00; stroke-width: 3; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gs-data").textContent);
  var view = document.getElementById("view");
  var svg = view.querySelector("svg");
  var panel = document.getElementById("details");
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  var full = svg.viewBox.baseVal;
  var box = {x: full.x, y: full.y, w: full.width, h: full.height};
  var home = {x: box.x, y: box.y, w: box.w, h: box.h};
  function apply() { svg.setAttribute("viewBox", box.x + " " + box.y + " " + box.w + " " + box.h); }
  function zoom(factor, cx, cy) {
    var r = svg.getBoundingClientRect();
    var fx = r.width ? (cx - r.left) / r.width : 0.5, fy = r.height ? (cy - r.top) / r.height : 0.5;
    var px = box.x + fx * box.w, py = box.y + fy * box.h;
    box.w *= factor; box.h *= factor; box.x = px - fx * box.w; box.y = py - fy * box.h; apply();
  }
  view.addEventListener("wheel", function (ev) {
    ev.preventDefault(); zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, ev.clientX, ev.clientY);
  }, {passive: false});
  var drag = null;
  view.addEventListener("mousedown", function (ev) {
    drag = {x: ev.clientX, y: ev.clientY, bx: box.x, by: box.y, moved: false};
    view.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var r = svg.getBoundingClientRect(), s = Math.max(box.w / (r.width || 1), box.h / (r.height || 1));
    if (Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3) drag.moved = true;
    box.x = drag.bx - (ev.clientX - drag.x) * s; box.y = drag.by - (ev.clientY - drag.y) * s; apply();
  });
  window.addEventListener("mouseup", function () { view.classList.remove("dragging"); setTimeout(function () { drag = null; }, 0); });
  document.getElementById("zoom-in").addEventListener("click", function () {
    var r = svg.getBoundingClientRect(); zoom(1 / 1.3, r.left + r.width / 2, r.top + r.height / 2);
  });
  document.getElementById("zoom-out").addEventListener("click", function () {
    var r = svg.getBoundingClientRect(); zoom(1.3, r.left + r.width / 2, r.top + r.height / 2);
  });
  document.getElementById("fit").addEventListener("click", function () {
    box = {x: home.x, y: home.y, w: home.w, h: home.h}; apply();
  });
  var pinned = null;
  function show(id) {
    var d = data.nodes[id];
    if (!d) return;
    while (panel.firstChild) panel.removeChild(panel.firstChild);
    var h = document.createElement("h2");
    h.textContent = d.title || id;
    h.style.fontSize = "14px";
    panel.appendChild(h);
    var dl = document.createElement("dl");
    Object.keys(d).forEach(function (key) {
      if (key === "title") return;
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = key;
      var v = d[key];
      dd.textContent = Array.isArray(v) ? (typeof v[0] === "number" ? "[" + v.join(", ") + "]" : v.join("\n")) : String(v);
      dl.appendChild(dt); dl.appendChild(dd);
    });
    panel.appendChild(dl);
    panel.setAttribute("data-shown", id);
  }
  Array.prototype.forEach.call(svg.querySelectorAll("g.gs_node"), function (g) {
    g.addEventListener("click", function (ev) {
      if (drag && drag.moved) return;
      ev.stopPropagation();
      if (pinned) pinned.classList.remove("selected");
      pinned = g; g.classList.add("selected"); show(g.id);
    });
    g.addEventListener("mouseenter", function () { if (!pinned) show(g.id); });
  });
  apply();
})();
"""


def render_html(capture: Capture, options: dict | None = None) -> str:
    drawing = drawing_mod.build(capture, options)
    svg = run_dot(to_dot(drawing), "svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE
    data = {"title": drawing.title, "notes": drawing.notes,
            "nodes": {vid: v.details for vid, v in drawing.vertices.items()}}
    title = html.escape(drawing.title)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">\n"
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{title}</h1><button id=\"zoom-in\">+</button><button id=\"zoom-out\">−</button>"
        "<button id=\"fit\">fit</button></header>\n"
        f"<main><div id=\"view\">{svg}</div>\n"
        "<aside id=\"details\"><p>Click or hover a node to see its details. Drag to pan, scroll to zoom.</p></aside>"
        "</main>\n"
        f"<script type=\"application/json\" id=\"gs-data\">{script_json(data)}</script>\n"
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


def script_json(data: object) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&` or line separators left raw."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text
