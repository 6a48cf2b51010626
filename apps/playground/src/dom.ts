/** A few DOM helpers: elements from a tag and properties, labelled controls. */

type Props = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, children: Array<Node | string> = []): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    if (typeof v === 'function') e.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'text') e.textContent = String(v);
    else if (k === 'html') e.innerHTML = String(v);
    else if (typeof v === 'boolean') {
      if (v) e.setAttribute(k, '');
    } else e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c);
  return e;
}

export interface SliderOptions {
  id: string;
  label: string;
  min: number;
  max: number;
  value: number;
  /** Logarithmic scale (learning rates, temperatures). */
  log?: boolean;
  /** Round to integers. */
  integer?: boolean;
  format?: (v: number) => string;
  onChange: (v: number) => void;
}

/** A labelled range input whose value is shown beside it; `set` moves it without firing onChange. */
export function slider(o: SliderOptions): { element: HTMLElement; input: HTMLInputElement; set(v: number): void; get(): number } {
  const STEPS = 1000;
  const toPos = (v: number) => (o.log ? (Math.log(v / o.min) / Math.log(o.max / o.min)) * STEPS : ((v - o.min) / (o.max - o.min)) * STEPS);
  const fromPos = (p: number) => {
    const v = o.log ? o.min * Math.pow(o.max / o.min, p / STEPS) : o.min + (p / STEPS) * (o.max - o.min);
    return o.integer ? Math.round(v) : Number(v.toPrecision(3));
  };
  const format = o.format ?? ((v: number) => String(v));
  const out = el('output', { text: format(o.value) });
  const input = el('input', { type: 'range', id: o.id, min: 0, max: STEPS, step: 1, value: Math.round(toPos(o.value)) });
  let value = o.value;
  input.addEventListener('input', () => {
    value = fromPos(Number(input.value));
    out.textContent = format(value);
  });
  input.addEventListener('change', () => o.onChange(value));
  const element = el('label', { class: 'control' }, [el('span', { text: o.label }), input, out]);
  return {
    element,
    input,
    set(v: number) {
      value = v;
      input.value = String(Math.round(toPos(v)));
      out.textContent = format(v);
    },
    get: () => value,
  };
}

export function select<T extends string>(id: string, label: string, options: Array<{ value: T; text: string }>, value: T, onChange: (v: T) => void): { element: HTMLElement; input: HTMLSelectElement } {
  const input = el('select', { id }, options.map((o) => el('option', { value: o.value, text: o.text })));
  input.value = value;
  input.addEventListener('change', () => onChange(input.value as T));
  return { element: el('label', { class: 'control' }, [el('span', { text: label }), input]), input };
}

export function button(id: string, text: string, onClick: () => void): HTMLButtonElement {
  return el('button', { id, type: 'button', text, onclick: onClick });
}
