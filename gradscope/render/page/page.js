/* gradscope's page: modules open and close in place (Graphviz in WebAssembly lays out each state from
   DOT assembled here the way dot.py's to_dot writes it), search, paths to the loss, edges in words.
   Every string from user code is shown with textContent. */
(function () {
  "use strict";
  var M = JSON.parse(document.getElementById("gs-data").textContent);
  var V = M.vertices;
  var view = document.getElementById("view");
  var info = document.getElementById("info");
  var search = document.getElementById("search");
  var searchCount = document.getElementById("search-count");
  var statusLine = document.getElementById("status");
  var initialSvg = view.querySelector("svg").cloneNode(true);
  var collapsed = new Set(M.collapsed);
  var neverBoxed = M.never_boxed;  // cuts and frozen parameters stay drawn inside a closed module, as in the SVG
  var current = null;  // what is drawn: {order, edges, clusters, dot, svg}
  var pz = null;
  var pinned = null;  // {node: vid} or {edge: index}
  var hits = [], hitIndex = -1;
  var press = null;
  var graphvizReady = null;

  // -- the graph for a set of closed modules (collapse_modules, elide and _clusters of the Python side) --

  function outermostClosed(module) {
    var parts = module.split(".");
    for (var i = 1; i <= parts.length; i++) {
      var name = parts.slice(0, i).join(".");
      if (collapsed.has(name) && M.boxes[name]) return name;
    }
    return null;
  }

  function assemble() {
    var map = {}, order = [], seen = new Set();
    M.order.forEach(function (vid) {
      var v = V[vid], target = vid;
      var box = v.module && neverBoxed.indexOf(v.kind) < 0 ? outermostClosed(v.module) : null;
      if (box !== null) target = M.boxes[box][v.run === null ? "" : String(v.run)] || vid;
      map[vid] = target;
      if (!seen.has(target)) { seen.add(target); order.push(target); }
    });
    var edges = remap(M.edges.map(function (e, i) {
      return {src: map[e.src], dst: map[e.dst], e: e, base: [i]};
    }));
    var g = {map: map, order: order, edges: edges, hidden: 0};
    if (order.length > M.max_nodes) elide(g);
    g.dot = toDot(g);
    return g;
  }

  function remap(list) {
    var out = [], index = new Map();
    list.forEach(function (x) {
      if (x.src === x.dst && !x.e.back) return;
      var key = x.src + "\u0000" + x.dst + "\u0000" + x.e.key;
      if (index.has(key)) { Array.prototype.push.apply(out[index.get(key)].base, x.base); return; }
      index.set(key, out.length);
      out.push(x);
    });
    return out;
  }

  function isRoot(vid) { return !!(V[vid] && V[vid].root); }

  function elide(g) {
    var max = M.max_nodes, inputs = new Map(), consumed = new Set();
    g.edges.forEach(function (x) {
      if (!inputs.has(x.dst)) inputs.set(x.dst, []);
      inputs.get(x.dst).push(x.src);
      consumed.add(x.src);
    });
    var starts = g.order.filter(isRoot).concat(g.order.filter(function (v) { return !consumed.has(v); }), g.order);
    var kept = new Set(), keptOrder = [], queue = [], qi = 0;
    function keep(v) { kept.add(v); keptOrder.push(v); queue.push(v); }
    for (var i = 0; i < starts.length && kept.size < max; i++) {
      if (kept.has(starts[i])) continue;
      keep(starts[i]);
      while (qi < queue.length && kept.size < max) {
        (inputs.get(queue[qi]) || []).forEach(function (src) { if (!kept.has(src) && kept.size < max) keep(src); });
        qi++;
      }
    }
    g.hidden = g.order.length - kept.size;
    g.order.forEach(function (v) { if (!kept.has(v)) g.map[v] = "elided"; });
    Object.keys(g.map).forEach(function (v) { if (!kept.has(g.map[v])) g.map[v] = "elided"; });
    g.order = keptOrder.concat(["elided"]);
    g.edges = remap(g.edges.map(function (x) {
      return {src: kept.has(x.src) ? x.src : "elided", dst: kept.has(x.dst) ? x.dst : "elided", e: x.e, base: x.base};
    })).filter(function (x) { return !(x.src === "elided" && x.dst === "elided"); });
  }

  function vertexOf(vid) {
    return vid === "elided" ? {dot: M.elided.dot, module: null, kind: "elided", run: null, path: []} : V[vid];
  }

  // A parameter with one consumer sits on its consumer's rank: the rule of dot.py's _beside_consumers
  // (without it the boxes of consecutive blocks are pushed sideways into a staircase).
  function besideConsumers(g) {
    var inputs = new Set(), consumers = new Map(), lines = [];
    g.edges.forEach(function (x) {
      if (x.e.back) return;
      inputs.add(x.dst);
      if (!consumers.has(x.src)) consumers.set(x.src, new Set());
      consumers.get(x.src).add(x.dst);
    });
    g.order.forEach(function (vid) {
      var v = vertexOf(vid), targets = consumers.get(vid);
      if ((v.kind === "parameter" || v.kind === "frozen") && !inputs.has(vid) && targets && targets.size === 1) {
        lines.push("  { rank=same; " + vid + "; " + targets.values().next().value + "; }");
      }
    });
    return lines;
  }

  function toDot(g) {
    var paths = new Map(), shared = new Map();
    g.order.forEach(function (vid) { paths.set(vid, vertexOf(vid).path); });
    g.order.forEach(function (vid) {
      var v = vertexOf(vid);
      if (v.run === null) return;
      var p = paths.get(vid).concat(v.kind === "module" ? [v.module] : []);
      var common = shared.has(v.run) ? shared.get(v.run) : M.runs[String(v.run)].modules;
      var n = 0;
      while (n < common.length && n < p.length && common[n] === p[n]) n++;
      shared.set(v.run, common.slice(0, n));
    });
    var top = {key: null, depth: 0, kids: new Map(), list: [], members: []};
    g.order.forEach(function (vid) {
      var v = vertexOf(vid), mods = paths.get(vid), keys;
      var asKeys = function (names) { return names.map(function (m) { return ["m", m]; }); };
      if (v.run !== null) {
        var k = shared.get(v.run).length;
        keys = asKeys(mods.slice(0, k)).concat([["r", v.run]], asKeys(mods.slice(k)));
      } else {
        keys = asKeys(mods);
      }
      var node = top;
      keys.forEach(function (key) {
        var name = key[0] + ":" + key[1];
        if (!node.kids.has(name)) {
          var child = {key: key, depth: node.depth + 1, kids: new Map(), list: [], members: []};
          node.kids.set(name, child);
          node.list.push(child);
        }
        node = node.kids.get(name);
      });
      node.members.push(vid);
    });
    var out = [], counter = 0, stack = [["open", top]];
    g.clusters = {};
    while (stack.length) {
      var item = stack.pop(), node = item[1], indent = "  ".repeat(node.depth + 1);
      if (item[0] === "close") { out.push("  ".repeat(node.depth) + "}"); continue; }
      if (node.key) {
        var name = "cluster_" + counter;
        out.push("  ".repeat(node.depth) + "subgraph " + name + " {");
        counter++;
        var attrs = node.key[0] === "m" ? M.clusters[node.key[1]] : M.runs[String(node.key[1])].attrs;
        attrs.forEach(function (line) { out.push(indent + line); });
        if (node.key[0] === "m") g.clusters[name] = node.key[1];
      }
      node.members.forEach(function (vid) {
        var line = vid === "elided" ? M.elided.dot.split(M.elided.hidden).join(String(g.hidden)) : V[vid].dot;
        out.push(indent + line);
      });
      if (node.key) stack.push(["close", node]);
      for (var i = node.list.length - 1; i >= 0; i--) stack.push(["open", node.list[i]]);
    }
    g.edges.forEach(function (x) {
      var elided = x.src === "elided" || x.dst === "elided";
      out.push("  " + x.src + " -> " + x.dst + " [" + (elided ? x.e.elided_attrs : x.e.attrs) + "];");
    });
    besideConsumers(g).forEach(function (line) { out.push(line); });
    return M.header + out.map(function (line) { return line + "\n"; }).join("") + "}\n";
  }

  // -- drawing a laid-out picture ----------------------------------------------------------------

  function install(svg, g) {
    if (pz) { pz.destroy(); pz = null; }
    while (view.firstChild) view.removeChild(view.firstChild);
    view.appendChild(svg);
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    var pairs = new Map();
    g.edges.forEach(function (x, i) {
      var key = x.src + "->" + x.dst;
      if (!pairs.has(key)) pairs.set(key, []);
      pairs.get(key).push(i);
    });
    Array.prototype.forEach.call(svg.querySelectorAll("g.edge"), function (el) {
      var title = el.querySelector("title"), list = title ? pairs.get(title.textContent) : null;
      if (list && list.length) el.setAttribute("data-edge", String(list.shift()));
    });
    Array.prototype.forEach.call(svg.querySelectorAll("g.cluster"), function (el) {
      var title = el.querySelector("title"), module = title ? g.clusters[title.textContent] : undefined;
      if (module !== undefined) el.setAttribute("data-module", module);
    });
    // SVG <title>s would show internal ids as tooltips
    Array.prototype.forEach.call(svg.querySelectorAll("title"), function (t) { t.parentNode.removeChild(t); });
    current = g;
    current.svg = svg;
    pz = svgPanZoom(svg, {zoomEnabled: true, controlIconsEnabled: false, dblClickZoomEnabled: false,
                          fit: true, center: true, minZoom: 0.02, maxZoom: 40, zoomScaleSensitivity: 0.25});
    bind(svg);
    if (pinned && pinned.node && !svg.querySelector("#" + cssId(pinned.node))) pinned = null;
    if (pinned && pinned.node) pinNode(pinned.node); else if (pinned) unpin();
    if (search.value) runSearch(false);
    document.body.setAttribute("data-state", "ready");
    statusLine.textContent = "";
  }

  function cssId(id) { return window.CSS && CSS.escape ? CSS.escape(id) : id; }

  function relayout() {
    var g = assemble();
    document.body.setAttribute("data-state", "loading");
    statusLine.textContent = "laying out…";
    if (!graphvizReady) graphvizReady = GSGraphviz.Graphviz.load();
    graphvizReady.then(function (gv) {
      var text = gv.layout(g.dot, "svg", "dot");
      var doc = new DOMParser().parseFromString(text, "image/svg+xml");
      install(document.importNode(doc.documentElement, true), g);
    }).catch(function (err) {
      statusLine.textContent = "layout failed: " + err;
      document.body.setAttribute("data-state", "error");
      console.error(err);
    });
  }

  function bind(svg) {
    svg.addEventListener("mousedown", function (ev) { press = {x: ev.clientX, y: ev.clientY}; });
    function clicked(ev) {
      return !press || Math.abs(ev.clientX - press.x) + Math.abs(ev.clientY - press.y) < 5;
    }
    Array.prototype.forEach.call(svg.querySelectorAll("g.gs_node"), function (el) {
      var vid = el.id;
      el.addEventListener("mouseenter", function () { if (!pinned) showVertex(vid, null); });
      el.addEventListener("click", function (ev) {
        if (!clicked(ev)) return;
        ev.stopPropagation();
        var v = vertexOf(vid);
        if (v && v.kind === "module") open(v.module); else pinNode(vid);
      });
    });
    Array.prototype.forEach.call(svg.querySelectorAll("g.edge[data-edge]"), function (el) {
      var i = Number(el.getAttribute("data-edge"));
      el.addEventListener("mouseenter", function () { if (!pinned) showEdge(i); });
      el.addEventListener("click", function (ev) {
        if (!clicked(ev)) return;
        ev.stopPropagation();
        pinEdge(i);
      });
    });
    Array.prototype.forEach.call(svg.querySelectorAll("g.cluster[data-module]"), function (el) {
      el.addEventListener("click", function (ev) {
        if (!clicked(ev)) return;
        ev.stopPropagation();
        close(el.getAttribute("data-module"));
      });
    });
  }

  // -- opening and closing modules ----------------------------------------------------------------

  function hasSubmodules(name) {
    return Object.keys(M.boxes).some(function (m) { return m.indexOf(name + ".") === 0; });
  }

  function open(module) {
    collapsed.delete(module);
    var depth = module.split(".").length;
    Object.keys(M.boxes).forEach(function (m) {  // one level at a time: submodules with their own children stay closed
      if (m.indexOf(module + ".") === 0 && m.split(".").length === depth + 1 && hasSubmodules(m)) collapsed.add(m);
    });
    relayout();
  }

  function close(module) {
    if (!M.boxes[module]) return;
    collapsed.add(module);
    relayout();
  }

  // -- details, paths, edges ----------------------------------------------------------------------

  function clear() { while (info.firstChild) info.removeChild(info.firstChild); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function rowsList(rows) {
    var dl = el("dl");
    rows.forEach(function (r) { dl.appendChild(el("dt", r[0])); dl.appendChild(el("dd", r[1])); });
    return dl;
  }

  function shownOf(vid) {
    if (vid === "elided") {
      return {title: current.hidden + " nodes elided", rows: [["kind", "elided nodes (--max-nodes)"],
              ["why", "more than " + M.max_nodes + " nodes: raise --max-nodes to draw them"]],
              saved: [], findings: []};
    }
    return V[vid];
  }

  function showVertex(vid, verdict) {
    var v = shownOf(vid);
    if (!v) return;
    clear();
    info.appendChild(el("h2", v.title));
    if (verdict) info.appendChild(el("div", verdict.text, "verdict" + (verdict.cut ? " cut" : "")));
    if (verdict && verdict.cuts.length) {
      var ul = el("ul");
      verdict.cuts.forEach(function (c) { ul.appendChild(el("li", c)); });
      info.appendChild(ul);
    }
    info.appendChild(rowsList(v.rows));
    if (v.kind === "module") info.appendChild(el("p", "click the box to open it"));
    if (v.findings.length) {
      info.appendChild(el("h3", "findings"));
      var f = el("ul");
      v.findings.forEach(function (x) { f.appendChild(el("li", x)); });
      info.appendChild(f);
    }
    if (v.saved.length) {
      var button = el("button", "show " + v.saved.length + " saved for backward");
      button.id = "show-saved";
      var list = el("ul", null, "saved");
      list.hidden = true;
      v.saved.forEach(function (s) { list.appendChild(el("li", s)); });
      button.addEventListener("click", function () {
        list.hidden = !list.hidden;
        button.textContent = (list.hidden ? "show " : "hide ") + v.saved.length + " saved for backward";
      });
      info.appendChild(button);
      info.appendChild(list);
    }
    info.setAttribute("data-shown", vid);
  }

  function edgeWords(x) {
    var e = x.e;
    var rows = [["from", shownOf(x.src).title], ["to", shownOf(x.dst).title], ["gradient", e.why]];
    if (e.line !== undefined) rows.push(["line", e.line]);
    if (e.label) rows.push(["label", e.label]);
    if (e.op) rows.push(["op", e.op]);
    if (x.base.length > 1) rows.push(["stands for", x.base.length + " edges between what the boxes hold"]);
    return rows;
  }

  function showEdge(i) {
    var x = current.edges[i];
    if (!x) return;
    clear();
    info.appendChild(el("h2", shownOf(x.src).title + " → " + shownOf(x.dst).title));
    info.appendChild(el("div", x.e.grad ? "gradient flows along this edge" : cutText(x.e),
                        "verdict" + (x.e.grad ? "" : " cut")));
    info.appendChild(rowsList(edgeWords(x)));
    info.setAttribute("data-shown", "edge");
  }

  function cutText(e) {
    return e.line !== undefined ? "cut at line " + e.line + " (" + e.why + ")" : "cut: " + (e.label || e.why);
  }

  function paths(vid) {
    var out = new Map(), into = new Map();
    current.edges.forEach(function (x, i) {
      if (!out.has(x.src)) out.set(x.src, []);
      out.get(x.src).push(i);
      if (!into.has(x.dst)) into.set(x.dst, []);
      into.get(x.dst).push(i);
    });
    function reach(start, adj, end, gradOnly) {
      var seen = new Set(start), stack = start.slice();
      while (stack.length) {
        (adj.get(stack.pop()) || []).forEach(function (i) {
          var x = current.edges[i], next = x[end];
          if (gradOnly && !x.e.grad) return;
          if (!seen.has(next)) { seen.add(next); stack.push(next); }
        });
      }
      return seen;
    }
    var roots = current.order.filter(isRoot);
    var forward = reach([vid], out, "dst", false), flowing = reach([vid], out, "dst", true);
    var toRoot = reach(roots, into, "src", false);
    var on = [];
    current.edges.forEach(function (x, i) { if (forward.has(x.src) && toRoot.has(x.dst)) on.push(i); });
    var reached = roots.filter(function (r) { return flowing.has(r); });
    var cuts = [];
    on.forEach(function (i) {
      var e = current.edges[i].e;
      if (!e.grad) {
        var text = cutText(e) + ": " + shownOf(current.edges[i].src).title + " → " +
                   shownOf(current.edges[i].dst).title;
        if (cuts.indexOf(text) < 0) cuts.push(text);
      }
    });
    var text, cut = false;
    var names = function (list) { return list.map(function (r) { return shownOf(r).title; }).join(", "); };
    if (isRoot(vid)) {
      text = "backward() started here";
    } else if (reached.length) {
      text = "Gradient reaches it from " + names(reached) + (cuts.length ? "; some paths are cut:" : "");
    } else if (on.length) {
      var where = [];
      on.forEach(function (i) {
        var e = current.edges[i].e, c = cutText(e);
        if (!e.grad && where.indexOf(c) < 0) where.push(c);
      });
      text = "No path: " + where.join("; ");
      cut = true;
    } else {
      text = "No path to a backward root: nothing made from it reaches a loss that was backpropagated";
      cut = true;
    }
    return {edges: on, nodes: forward, toRoot: toRoot, text: text, cut: cut, cuts: cuts};
  }

  function unmark() {
    var svg = current.svg;
    svg.classList.remove("gs-focus");
    Array.prototype.forEach.call(svg.querySelectorAll(".gs-on, .gs-path, .gs-cut, .selected"), function (e) {
      e.classList.remove("gs-on", "gs-path", "gs-cut", "selected");
    });
  }

  function pinNode(vid) {
    var node = current.svg.querySelector("#" + cssId(vid));
    if (!node) return;
    unmark();
    pinned = {node: vid};
    var p = paths(vid);
    current.svg.classList.add("gs-focus");
    node.classList.add("selected", "gs-on");
    p.edges.forEach(function (i) {
      var x = current.edges[i];
      var edge = current.svg.querySelector('g.edge[data-edge="' + i + '"]');
      if (edge) { edge.classList.add("gs-path"); if (!x.e.grad) edge.classList.add("gs-cut"); }
      [x.src, x.dst].forEach(function (v) {
        var n = current.svg.querySelector("#" + cssId(v));
        if (n) n.classList.add("gs-on");
      });
    });
    showVertex(vid, p);
  }

  function pinEdge(i) {
    unmark();
    pinned = {edge: i};
    var edge = current.svg.querySelector('g.edge[data-edge="' + i + '"]');
    if (edge) edge.classList.add("selected");
    showEdge(i);
  }

  function unpin() {
    pinned = null;
    if (current) unmark();
    clear();
    info.appendChild(el("p", "Hover a node or an edge to see it; click to pin (Escape unpins)."));
    info.removeAttribute("data-shown");
  }

  // -- search -------------------------------------------------------------------------------------

  function matcher(q) {
    q = q.trim();
    if (/[*?[]/.test(q)) {
      var re = "^" + q.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$";
      try { var r = new RegExp(re, "i"); return function (s) { return r.test(s); }; } catch (e) { return function () { return false; }; }
    }
    var low = q.toLowerCase();
    return function (s) { return s.toLowerCase().indexOf(low) >= 0; };
  }

  function runSearch(zoom) {
    Array.prototype.forEach.call(current.svg.querySelectorAll(".gs-match"), function (e) { e.classList.remove("gs-match"); });
    hits = [];
    hitIndex = -1;
    var q = search.value;
    if (!q.trim()) { searchCount.textContent = ""; return; }
    var test = matcher(q), found = new Set(), inside = 0;
    M.order.forEach(function (vid) {
      if (!V[vid].names.some(test)) return;
      var shown = current.map[vid] || vid;
      if (shown !== vid) inside++;
      found.add(shown);
    });
    current.order.forEach(function (vid) { if (V[vid] && V[vid].kind === "module" && test(V[vid].title)) found.add(vid); });
    current.order.forEach(function (vid) { if (found.has(vid)) hits.push(vid); });
    hits.forEach(function (vid) {
      var n = current.svg.querySelector("#" + cssId(vid));
      if (n) n.classList.add("gs-match");
    });
    searchCount.textContent = hits.length ? hits.length + " match" + (hits.length > 1 ? "es" : "") +
      (inside ? " (" + inside + " inside closed modules)" : "") : "no match";
    if (zoom && hits.length) zoomTo(hits);
  }

  function nextHit() {
    if (!hits.length) return;
    hitIndex = (hitIndex + 1) % hits.length;
    zoomTo([hits[hitIndex]]);
    searchCount.textContent = (hitIndex + 1) + " of " + hits.length;
    if (!pinned) showVertex(hits[hitIndex], null);
  }

  function zoomTo(vids) {
    var box = null;
    vids.forEach(function (vid) {
      var n = current.svg.querySelector("#" + cssId(vid));
      if (!n) return;
      var r = n.getBoundingClientRect();
      box = box ? {l: Math.min(box.l, r.left), t: Math.min(box.t, r.top), r: Math.max(box.r, r.right),
                   b: Math.max(box.b, r.bottom)} : {l: r.left, t: r.top, r: r.right, b: r.bottom};
    });
    if (!box) return;
    var v = view.getBoundingClientRect();
    pz.panBy({x: v.left + v.width / 2 - (box.l + box.r) / 2, y: v.top + v.height / 2 - (box.t + box.b) / 2});
    var factor = Math.min(v.width / (box.r - box.l + 60), v.height / (box.b - box.t + 60));
    factor = Math.min(factor, 2 / pz.getSizes().realZoom);  // never closer than twice the natural size
    pz.zoomBy(factor);
  }

  // -- controls -----------------------------------------------------------------------------------

  search.addEventListener("input", function () { runSearch(true); });
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") { ev.preventDefault(); nextHit(); }
    if (ev.key === "Escape") { search.blur(); }
  });
  document.getElementById("zoom-in").addEventListener("click", function () { pz.zoomIn(); });
  document.getElementById("zoom-out").addEventListener("click", function () { pz.zoomOut(); });
  document.getElementById("fit").addEventListener("click", function () { pz.fit(); pz.center(); });
  document.getElementById("reset").addEventListener("click", function () {
    collapsed = new Set(M.collapsed);
    install(initialSvg.cloneNode(true), assemble());
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.target === search || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "/") { ev.preventDefault(); search.focus(); search.select(); }
    else if (ev.key === "Escape") unpin();
    else if (ev.key === "f") { pz.fit(); pz.center(); }
    else if (ev.key === "+" || ev.key === "=") pz.zoomIn();
    else if (ev.key === "-" || ev.key === "_") pz.zoomOut();
  });

  window.gradscopePage = {  // for tests and the curious: the DOT of a state, and the closed modules
    dot: function () { return current.dot; },
    collapsed: function () { return Array.from(collapsed).sort(); },
    zoom: function () { return pz.getZoom(); }
  };
  install(view.querySelector("svg"), assemble());
})();
