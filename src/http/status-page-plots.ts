/**
 * The status page's plots of the last hour, as inline SVG drawn in the browser (no library, no CDN): a line for
 * Talon.One's latency and for the journal depth, stacked bars for terminal answers by source per interval.
 * Browser JavaScript kept as text (served by src/http/status-ui.ts inside the page script's scope: it uses `el`
 * and `fmtNum` from there); it is parsed by a unit test and run by the Chromium test.
 */
export const PLOTS_SCRIPT = String.raw`
var SVG_NS = 'http://www.w3.org/2000/svg';
var PLOT_W = 300;
var PLOT_H = 60;

function svgEl(tag, attrs) {
  var n = document.createElementNS(SVG_NS, tag);
  Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, String(attrs[k])); });
  return n;
}

/** x of a time in the hour ending at "end", in viewBox units. */
function xOf(at, end, spanMs) { return Math.max(0, Math.min(PLOT_W, PLOT_W - ((end - at) / spanMs) * PLOT_W)); }

/** A nice upper bound for the y axis (1, 2, 5 x 10^n), so labels read well. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  var p = Math.pow(10, Math.floor(Math.log10(v)));
  var m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function plotFrame(title, nowText, label, svg, legend) {
  var axis = el('div', 'axis', [el('span', null, '1 h ago'), el('span', null, 'now')]);
  return el('figure', 'plot', [
    el('figcaption', 'plot-head', [el('span', null, title), el('span', 'plot-now', nowText)]),
    el('div', 'plot-body', [el('span', 'plot-max', label), svg]),
    axis,
    legend || null,
  ]);
}

/** A line plot of points[key] (null values leave gaps). */
function linePlot(points, key, title, unit, end, spanMs) {
  var vals = points.map(function (p) { return p[key]; });
  var max = niceMax(Math.max.apply(null, vals.filter(function (v) { return v !== null; }).concat([0])));
  var svg = svgEl('svg', { viewBox: '0 0 ' + PLOT_W + ' ' + PLOT_H, preserveAspectRatio: 'none', role: 'img' });
  var runs = [];
  var run = [];
  points.forEach(function (p) {
    var v = p[key];
    if (v === null || v === undefined) { if (run.length) runs.push(run); run = []; return; }
    run.push(xOf(p.at, end, spanMs).toFixed(1) + ',' + (PLOT_H - (v / max) * (PLOT_H - 4) - 2).toFixed(1));
  });
  if (run.length) runs.push(run);
  runs.forEach(function (r) { if (r.length > 1) svg.appendChild(svgEl('polyline', { points: r.join(' '), class: 'line' })); });
  // The newest value as a dot, so a single point (a fresh start) still shows.
  var lastRun = runs[runs.length - 1];
  if (lastRun) {
    var xy = lastRun[lastRun.length - 1].split(',');
    svg.appendChild(svgEl('circle', { cx: xy[0], cy: xy[1], r: 2.5, class: 'dot' }));
  }
  var last = vals[vals.length - 1];
  var nowText = last === null || last === undefined ? 'no data' : fmtNum(last) + unit;
  svg.setAttribute('aria-label', title + ' over the last hour, now ' + nowText + ', at most ' + fmtNum(Math.max.apply(null, vals.filter(function (v) { return v !== null; }).concat([0]))) + unit);
  var any = vals.some(function (v) { return v !== null && v !== undefined; });
  return plotFrame(title, nowText, any ? fmtNum(max) + unit : '', svg);
}

/** Stacked bars per interval: answers given here (local) and by Talon.One (upstream). */
function answersPlot(points, end, spanMs, intervalSec) {
  var max = niceMax(Math.max.apply(null, points.map(function (p) { return p.local + p.upstream; }).concat([0])));
  var svg = svgEl('svg', { viewBox: '0 0 ' + PLOT_W + ' ' + PLOT_H, preserveAspectRatio: 'none', role: 'img' });
  var w = Math.max(1, (intervalSec * 1000 / spanMs) * PLOT_W - 0.5);
  var local = 0;
  var upstream = 0;
  points.forEach(function (p) {
    local += p.local;
    upstream += p.upstream;
    var x = xOf(p.at, end, spanMs) - w;
    var hl = (p.local / max) * (PLOT_H - 2);
    var hu = (p.upstream / max) * (PLOT_H - 2);
    if (hu > 0) svg.appendChild(svgEl('rect', { x: x.toFixed(1), y: (PLOT_H - hu).toFixed(1), width: w.toFixed(1), height: hu.toFixed(1), class: 'bar-up' }));
    if (hl > 0) svg.appendChild(svgEl('rect', { x: x.toFixed(1), y: (PLOT_H - hu - hl).toFixed(1), width: w.toFixed(1), height: hl.toFixed(1), class: 'bar-local' }));
  });
  svg.setAttribute('aria-label', 'Answers over the last hour: ' + fmtNum(local) + ' local, ' + fmtNum(upstream) + ' from Talon.One');
  var legend = el('p', 'legend', [
    el('span', 'swatch swatch-up', null), 'Talon.One ' + fmtNum(upstream) + ' ',
    el('span', 'swatch swatch-local', null), 'here (offline) ' + fmtNum(local),
  ]);
  return plotFrame('Answers to tills', 'per ' + Math.round(intervalSec) + ' s', fmtNum(max), svg, legend);
}

function renderPlots(history, end) {
  var points = (history && history.points) || [];
  var spanMs = 3600 * 1000;
  return [
    linePlot(points, 'upstreamP50Ms', 'Talon.One latency (median)', ' ms', end, spanMs),
    linePlot(points, 'journalDepth', 'Sales waiting in the journal', '', end, spanMs),
    answersPlot(points, end, spanMs, (history && history.intervalSec) || 30),
  ];
}
`;
