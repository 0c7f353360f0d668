"""The static rendering: the whole grid precomputed, redrawn by plotly.js without a kernel."""

from __future__ import annotations

import html
import json
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .exploration import Exploration

MAX_STATIC_BYTES = 1_500_000
PLOTLY_CDN = "https://cdn.plot.ly/plotly-2.35.2.min.js"


def static_html(exp: Exploration) -> str:
    """Self-contained HTML + JavaScript: plotly chart redrawn from the precomputed grid."""
    uid = "kx" + uuid.uuid4().hex[:10]
    payload = json.dumps(exp._payload(), separators=(",", ":"), allow_nan=False)
    if len(payload) > MAX_STATIC_BYTES:
        raise ValueError(
            f"the static exploration would embed {len(payload):,} bytes (limit "
            f"{MAX_STATIC_BYTES:,}); "
            "use fewer grid steps or fewer points per curve"
        )
    inputs = []
    for k, c in enumerate(exp.controls):
        label = html.escape(c.label)
        if c.kind == "choice":
            opts = "".join(
                f'<option value="{i}"{" selected" if i == c.default_index else ""}>'
                f"{html.escape(n)}</option>"
                for i, n in enumerate(c.names)
            )
            inputs.append(
                f'<label class="kx-ctl">{label} <select data-k="{k}">{opts}</select></label>'
            )
        else:
            inputs.append(
                f'<label class="kx-ctl">{label} <input type="range" data-k="{k}" '
                f'min="0" max="{len(c.values) - 1}" '
                f'step="1" value="{c.default_index}"> '
                f"<output>{html.escape(c.text(c.default))}</output></label>"
            )
    title = f'<div class="kx-title">{html.escape(exp.title)}</div>' if exp.title else ""
    return _STATIC_TEMPLATE.format(
        uid=uid,
        title=title,
        inputs="".join(inputs),
        height=exp.height,
        payload=payload,
        cdn=PLOTLY_CDN,
    )


_STATIC_TEMPLATE = """<div class="kx-explore" id="{uid}">{title}
<div class="kx-controls">{inputs}</div>
<div class="kx-plot" style="width:100%;height:{height}px"></div><div class="kx-readout"></div>
<noscript>This exploration needs JavaScript.</noscript></div>
<script>
(function() {{
  var D = {payload};
  var root = document.getElementById("{uid}");
  var plot = root.querySelector(".kx-plot"), readout = root.querySelector(".kx-readout");
  var ctl = Array.prototype.slice.call(root.querySelectorAll("[data-k]"));
  var dash = {{line: "solid", dashed: "dash", dotted: "dot"}};
  function key() {{ return ctl.map(function(e) {{ return e.value; }}).join("-"); }}
  function draw() {{
    ctl.forEach(function(e) {{
      var out = e.parentNode.querySelector("output");
      if (out) out.textContent = D.controls[+e.dataset.k].texts[+e.value];
    }});
    var f = D.frames[key()], n = D.panels.length, traces = [], shapes = [], notes = [];
    var layout = {{margin: {{l: 60, r: 20, t: 36, b: 46}}, showlegend: true,
                  legend: {{orientation: "h", y: -0.22}}, font: {{size: 12}}, annotations: notes,
                  shapes: shapes}};
    D.panels.forEach(function(p, i) {{
      var s = i ? String(i + 1) : "", w = 1 / n;
      var gap = 0.06, lo = i * w + (i ? gap : 0), hi = (i + 1) * w - (i < n - 1 ? gap : 0);
      // x axis type "-": plotly picks linear for numbers and category for text (bar labels)
      layout["xaxis" + s] = {{domain: [lo, hi], title: {{text: p.xlabel}},
                             type: p.xlog ? "log" : "-", anchor: "y" + s}};
      layout["yaxis" + s] = {{title: {{text: p.ylabel}}, type: p.ylog ? "log" : "linear",
                             anchor: "x" + s}};
      if (f[3][i]) layout["yaxis" + s].range = p.ylog ? f[3][i].map(Math.log10) : f[3][i];
      if (p.title) notes.push({{text: "<b>" + p.title + "</b>", xref: "x" + s + " domain",
                                yref: "paper", x: 0.5, y: 1.08, showarrow: false}});
    }});
    f[0].forEach(function(t) {{
      var s = t[0] ? String(t[0] + 1) : "", c = D.palette[t[3] % D.palette.length];
      var tr = {{x: D.xs[t[4]], y: D.xs[t[5]], name: t[1], xaxis: "x" + s, yaxis: "y" + s,
                 showlegend: !!t[1]}};
      if (t[2] === "bar") {{ tr.type = "bar"; tr.marker = {{color: c}}; }}
      else if (t[2] === "markers") {{ tr.mode = "markers"; tr.marker = {{color: c, size: 6}}; }}
      else {{ tr.mode = "lines"; tr.line = {{color: c, dash: dash[t[2]], width: 2}}; }}
      traces.push(tr);
    }});
    f[2].forEach(function(v) {{
      // on a log axis plotly.js places shapes by data value but annotations by log10 of it
      var s = v[0] ? String(v[0] + 1) : "", x = D.panels[v[0]].xlog ? Math.log10(v[1]) : v[1];
      shapes.push({{type: "line", xref: "x" + s, yref: "y" + s + " domain",
                    x0: v[1], x1: v[1], y0: 0, y1: 1,
                    line: {{color: "#888", width: 1, dash: "dot"}}}});
      notes.push({{text: v[2], xref: "x" + s, yref: "y" + s + " domain", x: x, y: 1, textangle: -90,
                   xanchor: "right", yanchor: "top", showarrow: false,
                   font: {{size: 10, color: "#666"}}}});
    }});
    readout.textContent = f[1];
    window.Plotly.react(plot, traces, layout, {{responsive: true, displayModeBar: false}});
  }}
  function start() {{ ctl.forEach(function(e) {{ e.addEventListener("input", draw); }}); draw(); }}
  if (window.Plotly) start();
  else {{
    var s = document.createElement("script"); s.src = "{cdn}"; s.onload = start;
    s.onerror = function() {{
      readout.textContent = "plotly.js could not be loaded, so this exploration cannot be drawn.";
    }};
    document.head.appendChild(s);
  }}
}})();
</script>"""
