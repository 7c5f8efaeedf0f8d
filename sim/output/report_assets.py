"""The building blocks of ``report.html`` that are not numbers: its CSS, its script, zoomable
figures, tables of ready-made cells and data embedded as JSON.

The page stays self-contained: the CSS and the script are inline strings, the script is vanilla
JavaScript (no library, no network) and reads its data from a ``<script type="application/json">``
block written by :func:`json_script`. Everything works without JavaScript: the figures open full
size through a checkbox (CSS only), and the interactive comparison is progressive enhancement —
hidden until the script shows it, with the static tables of the page underneath.
"""

from __future__ import annotations

import html
import json
import math
import re

from sim.output import html as H

#: CSS of the report, appended after the shared page CSS (:data:`sim.output.html.CSS`)
REPORT_CSS = "\n".join([
    "",
    "body main{max-width:1240px}",
    # tables whose probability columns must stay on screen: a sticky first column, compact cells
    "table.pm th,table.pm td{min-width:0}",
    "table.pm td.ind,table.pm th.ind{position:sticky;left:0;background:#fff;z-index:1;"
    "min-width:10em;max-width:22em;box-shadow:1px 0 0 var(--line)}",
    "table.pm th.ind{background:var(--head);z-index:2}",
    "table.pm th.sc{font-size:.78rem;max-width:8em;word-break:break-word;text-align:right}",
    "table.pm td.num{padding:4px 6px}",
    ".sub{display:block;color:var(--muted);font-size:.85em}",
    ".se{color:var(--muted);font-size:.85em}",
    ".flag{color:#8a4b00;font-weight:600;cursor:help}",
    ".meth{font-size:.75em;color:var(--muted);white-space:nowrap}",
    ".counts span{display:inline-block;min-width:1.9em;padding:0 2px;margin:1px;border-radius:3px;"
    "text-align:center}",
    ".counts .green{background:var(--green)}.counts .amber{background:var(--amber)}"
    ".counts .red{background:var(--red)}",
    ".box{border:1px solid var(--line);border-left:4px solid #c98a00;background:#fffaf0;"
    "padding:6px 10px;margin:.6em 0}",
    ".na{color:#8a1f11}",
    # figures open full size: a checkbox inside the label toggles a full-screen frame (no script)
    ".zoom{display:block;cursor:zoom-in;position:relative}",
    ".zoom input{position:absolute;opacity:0;width:1px;height:1px}",
    ".zoom .frame{display:block}",
    ".zoom input:focus-visible+.frame img{outline:3px solid #1f77b4}",
    ".zoom input:checked+.frame{position:fixed;inset:0;z-index:50;overflow:auto;cursor:zoom-out;"
    "background:rgba(20,24,28,.9);padding:8px}",
    ".zoom input:checked+.frame img{max-width:none;width:auto;background:#fff}",
    ".hint{font-size:.8em;color:var(--muted)}figcaption{overflow-wrap:anywhere}",
    # the interactive comparison
    ".cmp{border:1px solid var(--line);border-radius:4px;padding:8px 10px;margin:.6em 0}",
    ".cmp select{max-width:100%;font:inherit;font-size:.9rem}",
    ".cmp fieldset{border:0;padding:0;margin:.4em 0}",
    ".cmp fieldset label{display:inline-block;margin:0 10px 2px 0;white-space:nowrap}",
    ".cmp svg{width:100%;height:auto;display:block;max-width:760px}",
    ".cmp .key span{display:inline-block;margin-right:12px;font-size:.85em}",
    ".cmp .key i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}",
    ".bar{display:inline-block;height:.7em;background:#5f93c6;vertical-align:middle;"
    "margin-right:4px}",
    "@media (max-width:600px){body main{padding:6px}table.pm{font-size:.74rem}"
    ".se,.wide{display:none}table.pm td.ind,table.pm th.ind{min-width:7em;max-width:9.5em}"
    "table.pm th.sc{max-width:4.6em;padding:4px 3px}table.pm td.num{padding:4px 3px}}",
    # every table becomes one labelled card per row on a phone: sim.output.html.CARDS_CSS
    H.CARDS_CSS,
    "",
])

#: the comparison script: reads ``#cmp-data``, draws the chosen target's projections (SVG) for
#: the ticked scenarios and fills the P(met) / ΔP table; closes a full-size figure with Escape
REPORT_JS = r"""
(function () {
  "use strict";
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    document.querySelectorAll(".zoom input:checked").forEach(function (b) { b.checked = false; });
  });
  var src = document.getElementById("cmp-data"), root = document.getElementById("cmp");
  if (!src || !root) return;
  var D = JSON.parse(src.textContent);
  var sel = document.getElementById("cmp-target"), box = document.getElementById("cmp-scen");
  var chart = document.getElementById("cmp-chart"), key = document.getElementById("cmp-key");
  var body = document.getElementById("cmp-body"), note = document.getElementById("cmp-note");
  root.hidden = false;

  function pct(p) { return p === null || p === undefined ? "\u2013" : (100 * p).toFixed(1) + "%"; }
  function pp(d) { return (d >= 0 ? "+" : "\u2212") + Math.abs(100 * d).toFixed(1) + " pp"; }
  function num(x) {
    var a = Math.abs(x);
    var s = a >= 1000 ? Math.round(x).toLocaleString("en-US") : a >= 100 ? x.toFixed(1) :
      a >= 1 ? x.toFixed(2) : x.toPrecision(3);
    return s.replace("-", "\u2212");
  }
  function esc(x) {
    return String(x).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }
  function el(name, attrs, text) {
    var s = "<" + name;
    for (var k in attrs) s += " " + k + '="' + esc(attrs[k]) + '"';
    return s + (text === undefined ? "/>" : ">" + esc(text) + "</" + name + ">");
  }
  var heads = Array.prototype.map.call(root.querySelectorAll("thead th"),
    function (h) { return h.textContent; });
  function td(text, cls, title) {
    var c = document.createElement("td");
    c.textContent = text;
    if (cls) c.className = cls;
    if (title) c.title = title;
    return c;
  }
  function ticks(lo, hi, n) {
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n || 1)));
    var err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(v);
    return out;
  }
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
  function picked() {
    var ticked = box.querySelectorAll("input");
    return D.scenarios.filter(function (s, i) { return ticked[i] && ticked[i].checked; });
  }

  function drawChart(t, scen) {
    chart.textContent = "";
    key.textContent = "";
    var v = t.view !== null ? D.views[t.view] : null;
    if (!v) {
      chart.appendChild(document.createTextNode(t.method === "record only" ?
        "No projection to draw: no series measures this indicator; P(met) is the plan " +
        "record's rate for targets like it." : "No projection to draw for this target."));
      return;
    }
    var W = Math.max(320, Math.min(760, chart.clientWidth || 640)), H = W < 500 ? 240 : 300;
    var L = 62, R = 26, T = 12, B = 30;
    var xs = v.years.concat(v.hist[0]), ys = [];
    var shown = [], dup = {};
    scen.forEach(function (s) {
      var q = v.q[s.id];
      if (!q) return;
      for (var j = 0; j < shown.length; j++) {
        if (same(v.q[shown[j].id], q)) { dup[s.id] = shown[j].id; return; }
      }
      shown.push(s);
      ys = ys.concat(q[0], q[4]);
    });
    ys = ys.concat(v.hist[1]);
    if (t.value !== null) ys.push(t.value);
    if (t.value_high !== null) ys.push(t.value_high);
    ys = ys.filter(function (y) { return y !== null && isFinite(y); });
    if (!ys.length) { chart.textContent = "No finite values to draw."; return; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs.concat([t.year || 0]));
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var pad = (y1 - y0) * 0.06 || Math.abs(y1) * 0.05 || 1;
    y0 -= pad; y1 += pad;
    function X(x) { return L + (x - x0) / ((x1 - x0) || 1) * (W - L - R); }
    function Y(y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); }
    var svg = [];
    ticks(y0, y1, 5).forEach(function (y) {
      svg.push(el("line", {x1: L, x2: W - R, y1: Y(y), y2: Y(y), stroke: "#e3e7eb"}));
      svg.push(el("text", {x: L - 6, y: Y(y) + 4, "text-anchor": "end", "font-size": 12,
        fill: "#5b6773"}, num(y)));
    });
    ticks(x0, x1, Math.min(W < 500 ? 5 : 8, x1 - x0 || 1)).forEach(function (x) {
      if (x % 1) return;
      svg.push(el("text", {x: X(x), y: H - 10, "text-anchor": "middle", "font-size": 12,
        fill: "#5b6773"}, String(x)));
    });
    svg.push(el("line", {x1: X(D.as_of), x2: X(D.as_of), y1: T, y2: H - B,
      stroke: "#888", "stroke-dasharray": "3 3"}));
    shown.forEach(function (s) {
      var q = v.q[s.id], c = D.colours[D.scenarios.indexOf(s) % D.colours.length];
      var up = "", dn = "", med = "";
      v.years.forEach(function (x, k) {
        if (q[2][k] !== null) med += (med ? " L" : "M") + X(x) + " " + Y(q[2][k]);
        if (q[1][k] === null || q[3][k] === null) return;
        up += (up ? " L" : "M") + X(x) + " " + Y(q[3][k]);
        dn = " L" + X(x) + " " + Y(q[1][k]) + dn;
      });
      if (up) svg.push(el("path", {d: up + dn + " Z", fill: c, "fill-opacity": 0.18}));
      if (med) svg.push(el("path", {d: med, fill: "none", stroke: c, "stroke-width": 2}));
    });
    var hx = v.hist[0], hy = v.hist[1];
    for (var k = 0; k < hx.length; k++) {
      if (hy[k] === null) continue;
      svg.push(el("circle", {cx: X(hx[k]), cy: Y(hy[k]), r: 3, fill: "#111"}));
    }
    if (t.value !== null && t.year) {
      if (t.value_high !== null) {
        svg.push(el("line", {x1: X(t.year), x2: X(t.year), y1: Y(t.value),
          y2: Y(t.value_high), stroke: "#d62728", "stroke-width": 4}));
      } else {
        svg.push(el("line", {x1: X(D.as_of), x2: X(t.year), y1: Y(t.value), y2: Y(t.value),
          stroke: "#d62728", "stroke-dasharray": "6 3", "stroke-width": 1.5}));
        svg.push(el("circle", {cx: X(t.year), cy: Y(t.value), r: 4.5, fill: "#d62728"}));
      }
    }
    chart.innerHTML = '<svg viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' +
      esc(v.title) + '">' + svg.join("") + "</svg>";
    var items = [["#111", "observed 观测"], ["#d62728", "target 目标 " + t.target]];
    shown.forEach(function (s) {
      var twins = scen.filter(function (o) { return dup[o.id] === s.id; })
        .map(function (o) { return o.id; });
      items.push([D.colours[D.scenarios.indexOf(s) % D.colours.length],
        s.name + (twins.length ? " (= " + twins.join(", ") + ": same projection)" : "")]);
    });
    items.forEach(function (it) {
      var span = document.createElement("span"), sw = document.createElement("i");
      sw.style.background = it[0];
      span.appendChild(sw);
      span.appendChild(document.createTextNode(it[1]));
      key.appendChild(span);
    });
  }

  function fillTable(t, scen) {
    body.textContent = "";
    scen.forEach(function (s) {
      var r = t.rows[s.id], tr = document.createElement("tr");
      tr.appendChild(td(s.name));
      if (!r) {
        tr.appendChild(td("not evaluable", "na"));
        body.appendChild(tr);
        return;
      }
      var p = td("", "num " + (r.p >= D.green ? "green" : r.p >= D.amber ? "amber" : "red"));
      var bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = Math.round(40 * r.p) + "px";
      p.appendChild(bar);
      p.appendChild(document.createTextNode(pct(r.p) + " \u00b1 " + pct(r.se)));
      tr.appendChild(p);
      var d = r.d === null ? "" : s.id === D.baseline ? "baseline" :
        pp(r.d) + (r.dse !== null ? " \u00b1 " + (100 * r.dse).toFixed(1) : "");
      tr.appendChild(td(d, "num"));
      if (D.midterm) tr.appendChild(td(r.start === null ? "\u2013" : pct(r.start), "num"));
      tr.appendChild(td(r.word || ""));
      tr.appendChild(td(r.method + (r.low ? " \u00b7 low information" : ""), r.low ? "flag" : "",
        r.info || ""));
      body.appendChild(tr);
    });
    Array.prototype.forEach.call(body.rows, function (row) {   // labels of the narrow cards
      Array.prototype.forEach.call(row.cells, function (c, j) {
        c.setAttribute("data-label", heads[j] || ""); });
    });
    var info = scen.map(function (s) { return t.rows[s.id] && t.rows[s.id].info; })
      .filter(function (x) { return x; });
    note.textContent = (t.note ? t.note + " " : "") +
      (info.length ? "Information: " + info.filter(function (x, i) {
        return info.indexOf(x) === i; }).join(" / ") : "");
  }

  function update() {
    var t = D.targets[+sel.value], scen = picked();
    if (!t) return;
    drawChart(t, scen);
    fillTable(t, scen);
  }
  sel.addEventListener("change", update);
  window.addEventListener("resize", function () { clearTimeout(root.t); root.t = setTimeout(update, 200); });
  box.addEventListener("change", update);
  update();
})();
"""


def json_script(data, element_id: str) -> str:
    """``data`` as an inline JSON block that the page's script reads.

    Every ``<`` (it occurs only inside JSON strings) is written ``\\u003c``, so no text in the
    data can close the ``<script>`` element (``</script>``) or open a comment (``<!--``); JSON
    parsers read it back as ``<``. NaN and ±inf become ``null``.
    """
    text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c")
    return f'<script type="application/json" id="{H.esc(element_id)}">{text}</script>'


def _finite(x):
    """``x`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def zoom_figure(img_html: str, caption_html: str) -> str:
    """A figure that opens full size on click (and closes on a second click or Escape)."""
    return ('<figure><label class="zoom" title="点击放大 · click for full size">'
            '<input type="checkbox" aria-label="full size 全尺寸">'
            f'<span class="frame">{img_html}</span></label>'
            f"<figcaption>{caption_html} <span class=\"hint\">(click to enlarge 点击放大)</span>"
            "</figcaption></figure>")


def plain_text(fragment: str) -> str:
    """The text of an HTML fragment (tags dropped, entities read): a header as a card label."""
    return html.unescape(re.sub(r"<[^>]*>", " ", fragment)).split("  ")[0].strip()


def cells_table(header: list[str], rows: list[list[str]], classes: list[list[str]] | None = None,
                *, table_class: str = "", header_classes: list[str] | None = None,
                card_labels: list[str] | None = None) -> str:
    """A scrolling table of ready-made HTML cells (the caller escapes the text in them).

    Every table is a ``cards`` table: on a narrow screen one card per row, each cell labelled by
    ``card_labels`` (plain text, one per column; default the headers' text).
    """
    cls = f' class="{" ".join(dict.fromkeys(["cards"] + table_class.split()))}"'
    card_labels = card_labels or [plain_text(h) for h in header]
    out = [f'<div class="scroll"><table{cls}><thead><tr>']
    for j, h in enumerate(header):
        hc = header_classes[j] if header_classes and header_classes[j] else ""
        out.append(f'<th class="{hc}">{h}</th>' if hc else f"<th>{h}</th>")
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        out.append("<tr>")
        for j, c in enumerate(r):
            cc = f' class="{classes[i][j]}"' if classes and classes[i][j] else ""
            lab = f' data-label="{H.esc(card_labels[j])}"' if card_labels and card_labels[j] else ""
            out.append(f"<td{cc}{lab}>{c}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)
