/**
 * source.html?file=<path>#L<line>: a file of the repository as copied into the site at build time
 * (vite.config.ts), with line numbers and the line marked — where the autodiff view's op links go
 * when no public repository address is set (source-links.ts).
 */
import './style.css';

const file = new URLSearchParams(location.search).get('file') ?? '';
const line = Number(/^#L(\d+)$/.exec(location.hash)?.[1] ?? 0);

async function main(): Promise<void> {
  document.title = `${file} — simplex-vq`;
  const heading = document.createElement('h1');
  heading.className = 'source-title';
  heading.textContent = line ? `${file}:${line}` : file;
  document.body.append(heading);
  if (!/^packages\/[\w/.-]+\.ts$/.test(file) || file.includes('..')) {
    heading.textContent = `not a source file of the site: ${file}`;
    return;
  }
  const response = await fetch(`source/${file}`);
  if (!response.ok) {
    heading.textContent = `${file}: not in this build (HTTP ${response.status})`;
    return;
  }
  const table = document.createElement('table');
  table.className = 'source-lines';
  (await response.text()).split('\n').forEach((text, i) => {
    const row = table.insertRow();
    row.id = `L${i + 1}`;
    if (i + 1 === line) row.className = 'marked';
    row.insertCell().textContent = String(i + 1);
    row.insertCell().textContent = text;
  });
  document.body.append(table);
  document.getElementById(`L${line}`)?.scrollIntoView({ block: 'center' });
}

void main();
