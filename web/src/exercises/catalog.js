// The exercises, straight from the repository's exercises/ folder: every
// NN-slug/ with README.md, exercise.cpp (the skeleton) and test.cpp — the files
// ctest grades natively — and hints.md. solution.cpp (and anything else in the
// folder, such as mutants/) is never imported, so it never reaches the site.
// Adding an exercise is adding a folder.
const readmes = import.meta.glob('@exercises/[0-9][0-9]-*/README.md', { query: '?raw', import: 'default', eager: true });
const skeletons = import.meta.glob('@exercises/[0-9][0-9]-*/exercise.cpp', { query: '?raw', import: 'default', eager: true });
const tests = import.meta.glob('@exercises/[0-9][0-9]-*/test.cpp', { query: '?raw', import: 'default', eager: true });
const hintFiles = import.meta.glob('@exercises/[0-9][0-9]-*/hints.md', { query: '?raw', import: 'default', eager: true });

const slugOf = (file) => /([0-9]{2}-[^/]+)\/[^/]+$/.exec(file)[1];
const bySlug = (files) => Object.fromEntries(Object.entries(files).map(([file, text]) => [slugOf(file), text]));

/**
 * hints.md -> [{ title, body }]: one hint per `## ` section, in order (the
 * title without its number; body: Markdown). The `# ` heading above them is the
 * file's own title, not a hint.
 */
export function parseHints(text) {
  return (text ?? '').split(/^## +/m).slice(1).map((part) => {
    const newline = part.indexOf('\n');
    const heading = newline === -1 ? part : part.slice(0, newline);
    return { title: heading.trim().replace(/^\d+\.\s*/, ''), body: newline === -1 ? '' : part.slice(newline + 1).trim() };
  });
}

/**
 * [{ slug: '01-online-softmax', number: 1, title: 'Online softmax', readme, skeleton, test, hints }]
 * in folder order; the title is the README's heading without its number.
 */
export const exercises = (() => {
  const readme = bySlug(readmes);
  const skeleton = bySlug(skeletons);
  const test = bySlug(tests);
  const hints = bySlug(hintFiles);
  return Object.keys(readme).sort().filter((slug) => skeleton[slug] && test[slug]).map((slug) => {
    const heading = /^#\s+(.*)$/m.exec(readme[slug])?.[1] ?? slug;
    return {
      slug,
      number: Number(slug.slice(0, 2)),
      title: heading.replace(/^\d+\.\s*/, ''),
      readme: readme[slug],
      skeleton: skeleton[slug],
      test: test[slug],
      hints: parseHints(hints[slug]),
    };
  });
})();
