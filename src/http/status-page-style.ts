/**
 * The status page's stylesheet: phone first (readable at 360 px, nothing wider than the screen), a wider grid
 * on a laptop. Colour is never the only signal: every verdict and tile also says it in words.
 */
export const PAGE_STYLE = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#eef0f3;overflow-wrap:break-word}
main{max-width:48rem;margin:0 auto;padding:12px}
h1{font-size:1.1rem;margin:0}
h2{font-size:1rem;margin:0 0 .5rem}
h3{font-size:.9rem;margin:.75rem 0 .25rem;color:#444}
.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;gap:2px 12px;margin:0 0 10px}
.top .store{font-weight:400;color:#555}
.verdict{border-radius:14px;padding:14px 16px;margin:0 0 12px;background:#5f6368;color:#fff}
.verdict[data-level=green]{background:#1e7b34}
.verdict[data-level=amber]{background:#f9ab00;color:#1d1d1f}
.verdict[data-level=red]{background:#c5221f}
.verdict .level{font-size:1.35rem;font-weight:700;margin:0}
.verdict .sub{margin:.4rem 0 0}
.reasons{list-style:none;margin:.4rem 0 0;padding:0}
.reasons li{border-radius:10px;padding:8px 10px;margin-top:8px;background:rgba(255,255,255,.16);font-size:.95rem}
.verdict[data-level=amber] .reasons li{background:rgba(255,255,255,.45)}
.reasons li.red::before,.reasons li.amber::before{display:inline-block;font-size:.7rem;font-weight:700;letter-spacing:.04em;padding:1px 6px;border-radius:4px;margin-right:6px}
.reasons li.red::before{content:"RED";background:#fff;color:#c5221f}
.reasons li.amber::before{content:"AMBER";background:#1d1d1f;color:#f9ab00}
.reasons .what{font-weight:600}
.reasons .do{display:block;margin-top:4px}
.reasons .do::before{content:"What to do: ";font-weight:600}
.card{background:#fff;border-radius:14px;padding:12px 14px;margin:0 0 12px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}
@media (min-width:720px){.grid{grid-template-columns:repeat(3,minmax(0,1fr))}}
.tile{background:#f6f7f9;border-radius:10px;padding:8px 10px;min-width:0;border-left:4px solid transparent}
.tile.good{border-left-color:#1e7b34}
.tile.warn{border-left-color:#f9ab00}
.tile.bad{border-left-color:#c5221f;background:#fdecea}
.tile .k{font-size:.8rem;color:#555}
.tile .v{font-size:1.3rem;font-weight:700;line-height:1.2}
.tile .s{font-size:.8rem;color:#444}
.rows{list-style:none;margin:0;padding:0}
.rows li{display:flex;flex-wrap:wrap;justify-content:space-between;gap:2px 12px;padding:6px 0;border-top:1px solid #eceef1}
.rows li:first-child{border-top:0}
.rows .rk{color:#555;min-width:0}
.rows .rv{text-align:right;min-width:0;margin-left:auto;overflow-wrap:anywhere}
#admin-details .rows li{display:block}
#admin-details .rv{display:block;text-align:left;margin:0}
.plots{display:grid;grid-template-columns:minmax(0,1fr);gap:12px}
@media (min-width:720px){.plots{grid-template-columns:repeat(3,minmax(0,1fr))}}
.plot{margin:0;min-width:0}
.plot-head{display:flex;justify-content:space-between;gap:8px;font-size:.85rem}
.plot-now{font-weight:700;white-space:nowrap}
.plot-body{position:relative}
.plot-max{position:absolute;top:2px;left:4px;font-size:.7rem;color:#666}
.plot svg{display:block;width:100%;height:64px;background:#f6f7f9;border-radius:6px}
.axis{display:flex;justify-content:space-between;font-size:.7rem;color:#666}
.dot{fill:#1a73e8}
.line{fill:none;stroke:#1a73e8;stroke-width:2;vector-effect:non-scaling-stroke;stroke-linejoin:round}
.bar-up,.swatch-up{fill:#1a73e8;background:#1a73e8}
.bar-local,.swatch-local{fill:#e8710a;background:#e8710a}
.legend{font-size:.8rem;margin:.25rem 0 0}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin:0 4px 0 0;vertical-align:-1px}
form .row{display:flex;gap:8px}
label{display:block;font-size:.9rem;margin-bottom:4px}
input{font:inherit;padding:10px;border:1px solid #8a8f98;border-radius:8px;min-width:0;flex:1}
button{font:inherit;min-height:44px;padding:8px 14px;border:1px solid #8a8f98;border-radius:8px;background:#fff;color:#1d1d1f}
button:disabled{opacity:.5}
.actions{display:flex;flex-wrap:wrap;gap:8px}
.msg{min-height:1.45em;margin:.5rem 0 0}
.hint{font-size:.85rem;color:#555;margin:.5rem 0 0}
footer{font-size:.8rem;color:#555;text-align:center;padding:4px 0 16px}
.stale .card{opacity:.55}
[hidden]{display:none !important}
`;
