/** One line of a chart. */
export interface ChartSeries {
  name: string;
  /** (x, y) in data units, in drawing order. */
  points: readonly (readonly [number, number])[];
  color: string;
  /** SVG stroke-dasharray, e.g. '6 3'. */
  dash?: string;
  /** Draw as a step function (CDFs). */
  step?: boolean;
  /** Dots at the points. */
  markers?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** Logarithmic x axis (all x must be > 0). */
  xLog?: boolean;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  xTicks: readonly number[];
  yTicks: readonly number[];
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

const MARGIN = { left: 64, right: 170, top: 40, bottom: 52 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** A self-contained SVG line chart: axes with ticks and grid, one polyline per series, a legend on the right. */
export function lineChartSvg(o: LineChartOptions): string {
  const width = o.width ?? 760;
  const height = o.height ?? 420;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const tx = o.xLog ? Math.log10 : (v: number) => v;
  const x0 = tx(o.xMin);
  const x1 = tx(o.xMax);
  const sx = (v: number): number => MARGIN.left + (x1 === x0 ? 0 : ((tx(v) - x0) / (x1 - x0)) * plotW);
  const sy = (v: number): number =>
    MARGIN.top + plotH - (o.yMax === o.yMin ? 0 : ((v - o.yMin) / (o.yMax - o.yMin)) * plotH);
  const xf = o.xFormat ?? String;
  const yf = o.yFormat ?? String;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
  ];
  for (const t of o.yTicks) {
    const y = num(sy(t));
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yf(t))}</text>`,
    );
  }
  for (const t of o.xTicks) {
    const x = num(sx(t));
    out.push(
      `<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escapeXml(xf(t))}</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escapeXml(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const pts: string[] = [];
    let prevY: number | null = null;
    for (const [x, y] of s.points) {
      if (s.step && prevY !== null) pts.push(`${num(sx(x))},${num(sy(prevY))}`);
      pts.push(`${num(sx(x))},${num(sy(y))}`);
      prevY = y;
    }
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-opacity="0.85"${dash} points="${pts.join(' ')}"><title>${escapeXml(s.name)}</title></polyline>`,
    );
    if (s.markers) {
      for (const [x, y] of s.points) {
        out.push(`<circle cx="${num(sx(x))}" cy="${num(sy(y))}" r="3" fill="${s.color}"/>`);
      }
    }
    const ly = MARGIN.top + 10 + i * 20;
    const lx = MARGIN.left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** 1, 2, 5 × powers of ten covering [min, max] (for log axes). */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  return ticks;
}
