// A section's parameters in the page's URL: #<section id>?<input>=<value>&...
// e.g. #gqa?seqMin=64&seqMax=512&heads=4&causal=1. The fragment never reaches a
// server; opening such a link fills that section's controls and runs them.

/** The page's URL with section `id`'s parameters (controls.params()) in the fragment. */
export function sectionLink(id, params, href = location.href) {
  const url = new URL(href);
  url.hash = `${id}?${new URLSearchParams(params)}`;
  return url.toString();
}

/** A fragment made by sectionLink -> { id, params }; null for any other fragment. */
export function readSectionLink(hash) {
  const m = /^#?([A-Za-z][\w-]*)\?(.*)$/s.exec(hash);
  if (!m) return null;
  return { id: m[1], params: Object.fromEntries(new URLSearchParams(m[2])) };
}
