// A tiny line chart on <canvas>: a few series of {t, v} points over a shared time axis, with a
// y axis from 0 to a rounded maximum, three grid lines and a legend. No dependencies.

/** Rounds a maximum up to 1, 2 or 5 times a power of ten so axis labels read well. */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function formatValue(v) {
  if (v >= 10000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (v >= 10 || v === 0) return String(Math.round(v));
  return v.toFixed(1);
}

/** The time span to show: the data's own span, at least one and at most `maxMs` milliseconds. */
function spanOf(series, now, maxMs) {
  let first = now;
  for (const s of series) for (const p of s.points) if (p.t < first) first = p.t;
  return Math.min(maxMs, Math.max(60 * 1000, now - first));
}

/**
 * Draws `series` ([{name, color, points: [{t, v}]}]) on `canvas`, sized to its CSS box. The time
 * axis ends now and spans the data (one minute at least, `maxWindowMs` at most); `unit` is printed
 * at the top right.
 */
export function drawLineChart(canvas, { series, maxWindowMs = 10 * 60 * 1000, unit = "", now = Date.now() }) {
  const windowMs = spanOf(series, now, maxWindowMs);
  const dpr = globalThis.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || 120;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const style = getComputedStyle(canvas);
  const grid = style.getPropertyValue("--chart-grid").trim() || "#333";
  const text = style.getPropertyValue("--chart-text").trim() || "#aaa";
  const pad = { left: 34, right: 8, top: 18, bottom: 14 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const from = now - windowMs;

  let max = 0;
  for (const s of series) for (const p of s.points) if (p.t >= from && p.v > max) max = p.v;
  const top = niceMax(max);

  ctx.font = "10px system-ui, sans-serif";
  ctx.lineWidth = 1;
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 2; i++) {
    const v = (top * i) / 2;
    const y = pad.top + h - (h * i) / 2;
    ctx.strokeStyle = grid;
    ctx.beginPath();
    ctx.moveTo(pad.left, Math.round(y) + 0.5);
    ctx.lineTo(pad.left + w, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillStyle = text;
    ctx.textAlign = "right";
    ctx.fillText(formatValue(v), pad.left - 4, y);
  }
  ctx.textAlign = "left";
  const minutes = windowMs / 60000;
  ctx.fillText(
    `-${minutes >= 2 ? Math.round(minutes) : minutes.toFixed(1).replace(/\.0$/, "")} min`,
    pad.left,
    height - 6,
  );
  ctx.textAlign = "right";
  ctx.fillText("now", pad.left + w, height - 6);

  let legendX = pad.left;
  ctx.textAlign = "left";
  for (const s of series) {
    ctx.fillStyle = s.color;
    ctx.fillRect(legendX, 5, 8, 8);
    ctx.fillStyle = text;
    const label = s.name;
    ctx.fillText(label, legendX + 11, 9);
    legendX += 11 + ctx.measureText(label).width + 10;
  }
  if (unit) {
    ctx.textAlign = "right";
    ctx.fillText(unit, pad.left + w, 9);
  }

  ctx.lineWidth = 1.5;
  ctx.lineJoin = "round";
  for (const s of series) {
    const pts = s.points.filter((p) => p.t >= from && Number.isFinite(p.v));
    if (pts.length === 0) continue;
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.beginPath();
    pts.forEach((p, i) => {
      const x = pad.left + ((p.t - from) / windowMs) * w;
      const y = pad.top + h - (p.v / top) * h;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    const last = pts[pts.length - 1];
    ctx.beginPath();
    ctx.arc(
      pad.left + ((last.t - from) / windowMs) * w,
      pad.top + h - (last.v / top) * h,
      2.5,
      0,
      Math.PI * 2,
    );
    ctx.fill();
  }
}
