/**
 * Grounded numbers, pure: every figure a summary's text states must be one of the figures in
 * the facts its writer was given (the model's user message, built by report/prompt.ts from the
 * listed indicators and the trends), a date, year or ISO week of the report window, or a list
 * position. A headline that says "1,200 phishing domains" when the facts say 12 is refused like
 * an ungrounded citation. Indicator values (addresses, hashes, URLs, domains) are removed from
 * both texts before this runs; the grounding check judges them (report/grounding.ts).
 *
 * Formats accepted (docs/adr/2026-12-06-report-model-and-grounding.md "Grounded numbers"):
 * - grouping and trailing zeros: `1,234` = `1234`, `12.50` = `12.5`;
 * - abbreviations: `1.2k`, `3M`, `2 thousand` when a given figure rounds to them at the stated
 *   precision (1,234 → `1.2k` or `1k`; not `1.3k`);
 * - percentages only as given: `12.5%` / `12.5 percent` needs a percentage of 12.5 in the facts;
 * - dates (`2026-12-03`, `Dec 3`, `3 December 2026`) inside the window or named in the facts;
 *   years and ISO weeks (`2026-W49`, `week 49`, `W49`) of the window;
 * - number words two…ninety count as their digits; vague magnitudes (`hundreds`, `a dozen`,
 *   `millions of`) and digits outside ASCII that NFKC does not fold are always refused.
 * Digits inside a word count (`10x` states 10, `3rd` states 3): a number cannot hide in a word.
 */
import { isoWeek, type Window } from './period.ts';

/** One figure found in a text. */
export type Figure =
  | { readonly kind: 'number'; readonly text: string; readonly value: number }
  | { readonly kind: 'percent'; readonly text: string; readonly value: number }
  | { readonly kind: 'abbreviated'; readonly text: string; readonly value: number; readonly scale: number; readonly decimals: number }
  | { readonly kind: 'date'; readonly text: string; readonly month: number; readonly day: number; readonly year?: number | undefined }
  | { readonly kind: 'week'; readonly text: string; readonly week: number; readonly year?: number | undefined }
  | { readonly kind: 'vague'; readonly text: string };

/** The figures a text may state, from {@link figureSheet}. */
export interface FigureSheet {
  readonly numbers: ReadonlySet<number>;
  readonly percents: ReadonlySet<number>;
  /** `YYYY-MM-DD` of every day of the window and every date the facts name. */
  readonly days: ReadonlySet<string>;
  /** `YYYY-Www` of every week the window touches and the facts name. */
  readonly weeks: ReadonlySet<string>;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH = '(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?';
const WORDS: Readonly<Record<string, number>> = {
  two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
  thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19, twenty: 20,
  thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};
const SCALES: Readonly<Record<string, number>> = { k: 1e3, m: 1e6, b: 1e9, thousand: 1e3, million: 1e6, billion: 1e9 };

/** Alternatives in the order they are tried at one position; each has named groups. */
const TOKEN = new RegExp([
  String.raw`(?<iso>(?<iy>\d{4})-(?<im>\d{2})-(?<id>\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)`,
  String.raw`(?<isow>(?<wy>\d{4})-W(?<wn>\d{1,2}))`,
  String.raw`(?<wk>\b(?:(?:week|wk\.?)\s?#?|w)(?<wk2>\d{1,2})\b)`,
  String.raw`(?<md>\b${MONTH}\s+(?<mdd>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?<mdy>\d{4})\b)?)`,
  String.raw`(?<dm>\b(?<dmd>\d{1,2})(?:st|nd|rd|th)?\s+${MONTH.replace('(jan', '(?<dmm>jan')}\b(?:,?\s+(?<dmy>\d{4})\b)?)`,
  String.raw`(?<num>(?<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?<frac>\d+))?(?:\s?(?<pct>%|percent\b|per cent\b)|\s?(?<sc>thousand|million|billion)\b|(?<ab>[kmb])(?![a-z]))?)`,
  String.raw`(?<vague>\b(?:hundreds|thousands|millions|billions|dozens|a dozen|a hundred|a thousand|a million|hundred|thousand|million|billion)\b)`,
  String.raw`(?<word>\b(?:${Object.keys(WORDS).join('|')})\b)`,
  String.raw`(?<foreign>\p{Nd})`,
].join('|'), 'giu');

function monthOf(name: string): number {
  return MONTHS.indexOf(name.slice(0, 3).toLowerCase()) + 1;
}

function numberFigure(text: string, g: Record<string, string | undefined>): Figure {
  const value = Number(`${(g['int'] ?? '').replaceAll(',', '')}${g['frac'] === undefined ? '' : `.${g['frac']}`}`);
  if (g['pct'] !== undefined) return { kind: 'percent', text, value };
  const scale = g['sc'] ?? g['ab'];
  if (scale !== undefined) return { kind: 'abbreviated', text, value, scale: SCALES[scale.toLowerCase()] ?? 1, decimals: g['frac']?.length ?? 0 };
  return { kind: 'number', text, value };
}

function dateFigure(text: string, g: Record<string, string | undefined>): Figure | undefined {
  const n = (k: string): number | undefined => (g[k] === undefined ? undefined : Number(g[k]));
  if (g['iso'] !== undefined) return { kind: 'date', text, year: n('iy'), month: n('im') ?? 0, day: n('id') ?? 0 };
  if (g['isow'] !== undefined) return { kind: 'week', text, year: n('wy'), week: n('wn') ?? 0 };
  if (g['wk'] !== undefined) return { kind: 'week', text, week: n('wk2') ?? 0 };
  if (g['md'] !== undefined) return { kind: 'date', text, month: monthOf(text), day: n('mdd') ?? 0, year: n('mdy') };
  if (g['dm'] !== undefined) return { kind: 'date', text, month: monthOf(g['dmm'] ?? ''), day: n('dmd') ?? 0, year: n('dmy') };
  return undefined;
}

function figureOf(text: string, g: Record<string, string | undefined>): Figure {
  const date = dateFigure(text, g);
  if (date !== undefined) return date;
  if (g['num'] !== undefined) return numberFigure(text, g);
  if (g['word'] !== undefined) return { kind: 'number', text, value: WORDS[text.toLowerCase()] ?? NaN };
  return { kind: 'vague', text };
}

/**
 * Every figure stated in `text`, after NFKC folding (fullwidth and superscript digits become
 * ASCII ones; any other non-ASCII digit is a `vague` figure, always refused).
 */
export function figuresIn(text: string): Figure[] {
  const folded = text.normalize('NFKC');
  return [...folded.matchAll(TOKEN)].map((m) => figureOf(m[0], m.groups ?? {}));
}

const dayKey = (y: number, m: number, d: number): string => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;

/** The window's days (`since` to `until`, both included) and their ISO weeks. */
function windowDays(w: Window): { days: string[]; weeks: string[] } {
  const days: string[] = [];
  const weeks = new Set<string>();
  const last = Date.UTC(w.until.getUTCFullYear(), w.until.getUTCMonth(), w.until.getUTCDate());
  // A report window is at most MAX_WINDOW_MS (106 weeks): at most ~750 days.
  for (let t = Date.UTC(w.since.getUTCFullYear(), w.since.getUTCMonth(), w.since.getUTCDate()); t <= last; t += 86_400_000) {
    const d = new Date(t);
    days.push(d.toISOString().slice(0, 10));
    weeks.add(isoWeek(d));
  }
  return { days, weeks: [...weeks] };
}

/**
 * The figures a summary may state: every figure in `factsText` (the facts its writer was given,
 * indicator values removed), the window's days, years and weeks, and `positions` (list positions
 * and counts the writer can see, such as how many indicators it was given).
 */
export function figureSheet(factsText: string, w: Window, positions: readonly number[] = []): FigureSheet {
  const numbers = new Set<number>(positions);
  const percents = new Set<number>();
  const { days, weeks } = windowDays(w);
  const daySet = new Set(days);
  const weekSet = new Set(weeks);
  for (const d of days) numbers.add(Number(d.slice(0, 4)));
  for (const f of figuresIn(factsText)) {
    if (f.kind === 'number') numbers.add(f.value);
    else if (f.kind === 'percent') percents.add(f.value);
    else if (f.kind === 'abbreviated') numbers.add(f.value * f.scale);
    else if (f.kind === 'date' && f.year !== undefined) daySet.add(dayKey(f.year, f.month, f.day));
    else if (f.kind === 'week' && f.year !== undefined) weekSet.add(`${f.year}-W${String(f.week).padStart(2, '0')}`);
  }
  return { numbers, percents, days: daySet, weeks: weekSet };
}

function roundsTo(sheet: FigureSheet, value: number, scale: number, decimals: number): boolean {
  const p = 10 ** decimals;
  for (const n of sheet.numbers) if (Math.round((n / scale) * p) / p === value) return true;
  return false;
}

function dateGrounded(sheet: FigureSheet, f: Extract<Figure, { kind: 'date' }>): boolean {
  if (f.year !== undefined) return sheet.days.has(dayKey(f.year, f.month, f.day));
  const md = `-${String(f.month).padStart(2, '0')}-${String(f.day).padStart(2, '0')}`;
  return [...sheet.days].some((d) => d.endsWith(md));
}

function weekGrounded(sheet: FigureSheet, f: Extract<Figure, { kind: 'week' }>): boolean {
  const wk = `-W${String(f.week).padStart(2, '0')}`;
  return f.year === undefined ? [...sheet.weeks].some((x) => x.endsWith(wk)) : sheet.weeks.has(`${f.year}${wk}`);
}

/** True when `sheet` grounds `f`. */
export function grounds(sheet: FigureSheet, f: Figure): boolean {
  switch (f.kind) {
    case 'number': return sheet.numbers.has(f.value);
    case 'percent': return sheet.percents.has(f.value);
    case 'abbreviated': return roundsTo(sheet, f.value, f.scale, f.decimals);
    case 'date': return dateGrounded(sheet, f);
    case 'week': return weekGrounded(sheet, f);
    case 'vague': return false;
  }
}

/** Hashes and digests: their digit runs are no figures to offer. */
const HEX_ID = /\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b/gi;

/**
 * The distinct digit runs of `factsText` outside hashes and digests, longest first, at most
 * `max`: what a schema lets the writer's free text spell with digits (answer.ts answerSchema).
 */
export function digitRuns(factsText: string, max = 200): string[] {
  const runs = new Set(factsText.replace(HEX_ID, ' ').match(/\d+/g) ?? []);
  return [...runs].sort((a, b) => b.length - a.length || a.localeCompare(b)).slice(0, max);
}

/** The figures of `text` that `sheet` does not ground, as written, each once. */
export function ungroundedFigures(text: string, sheet: FigureSheet): string[] {
  return [...new Set(figuresIn(text).filter((f) => !grounds(sheet, f)).map((f) => f.text))];
}
