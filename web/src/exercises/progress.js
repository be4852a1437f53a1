// The learner's work as files and links, all made in the page (fflate), nothing
// sent anywhere:
//   - a zip of every touched exercise in the graders' layout, NN-slug/exercise.cpp,
//     which `./lab grade` reads once unpacked as a student's folder;
//   - a progress file (JSON) holding code, status and hints shown per exercise,
//     to carry the work to another browser;
//   - a share link: one exercise's code, deflated and base64url-encoded into the
//     URL's fragment (#exercise=NN-slug&code=…), which browsers never send to the
//     server.
import { deflateSync, inflateSync, strFromU8, strToU8, zipSync } from 'fflate';
import { store } from './store.js';

// ---- the graders' zip -------------------------------------------------------------

/** { 'NN-slug/exercise.cpp': saved code } of the touched exercises. */
export function gradersLayout(exercises) {
  return Object.fromEntries(exercises.filter((e) => store.touched(e)).map((e) => [`${e.slug}/exercise.cpp`, store.code(e)]));
}

/** The zip of gradersLayout(), as bytes. */
export function zipExercises(files) {
  return zipSync(Object.fromEntries(Object.entries(files).map(([name, text]) => [name, strToU8(text)])), { level: 9 });
}

// ---- the progress file --------------------------------------------------------------

const format = 'memlab-progress';
const version = 1;

/** Every touched exercise's code, status and hints shown, as a JSON text. */
export function exportProgress(exercises) {
  const entries = exercises.filter((e) => store.touched(e) || store.hintsShown(e) > 0)
    .map((e) => [e.slug, { code: store.code(e), status: store.status(e), hints: store.hintsShown(e) }]);
  return `${JSON.stringify({ format, version, exported: new Date().toISOString(), exercises: Object.fromEntries(entries) }, null, 2)}\n`;
}

/**
 * Reads a progress file's text: { entries: [{ exercise, code, status, hints | null }], unknown: [slug] }.
 * Throws an Error saying what is wrong with the file; changes nothing.
 */
export function readProgress(text, exercises) {
  let data;
  try { data = JSON.parse(text); } catch (e) { throw new Error(`not a memlab progress file: it is not JSON (${e.message})`); }
  if (data?.format !== format) throw new Error(`not a memlab progress file: format is ${JSON.stringify(data?.format)}, expected "${format}"`);
  if (data.version !== version) throw new Error(`progress file version ${JSON.stringify(data.version)}: this page reads version ${version}`);
  if (typeof data.exercises !== 'object' || data.exercises === null) throw new Error('the progress file has no "exercises" object');
  const entries = [];
  const unknown = [];
  for (const [slug, saved] of Object.entries(data.exercises)) {
    const exercise = exercises.find((e) => e.slug === slug);
    if (!exercise) { unknown.push(slug); continue; }
    if (typeof saved?.code !== 'string') throw new Error(`exercise ${slug}: "code" should be a string`);
    const status = saved.status ?? 'not-started';
    if (!['not-started', 'failing', 'passing'].includes(status))
      throw new Error(`exercise ${slug}: status ${JSON.stringify(status)}, expected not-started, failing or passing`);
    // (a file without "hints" leaves the hints shown here as they are)
    const hints = Number.isInteger(saved.hints) ? Math.max(0, Math.min(saved.hints, exercise.hints.length)) : null;
    entries.push({ exercise, code: saved.code, status, hints });
  }
  return { entries, unknown };
}

/** Saves what readProgress() read: the exercises in the file replace the browser's; the others stay. */
export function applyProgress(entries) {
  for (const { exercise, code, status, hints } of entries) {
    store.saveCode(exercise, code);
    store.saveStatus(exercise, status);
    if (hints !== null) store.saveHintsShown(exercise, hints);
  }
}

// ---- share links -----------------------------------------------------------------

const toBase64Url = (bytes) => {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const fromBase64Url = (text) => {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
};

/** The page's URL with the exercise's code in the fragment. */
export function shareLink(slug, code, href = location.href) {
  const url = new URL(href);
  url.hash = new URLSearchParams({ exercise: slug, code: toBase64Url(deflateSync(strToU8(code), { level: 9 })) }).toString();
  return url.toString();
}

/**
 * A fragment made by shareLink -> { slug, code }; null when the fragment is not
 * one; throws an Error when it is one that cannot be read (cut short, altered).
 */
export function readShareLink(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  if (!params.has('exercise') || !params.has('code')) return null;
  const slug = params.get('exercise');
  try {
    return { slug, code: strFromU8(inflateSync(fromBase64Url(params.get('code')))) };
  } catch (e) {
    throw new Error(`the code in this link cannot be read (was the link cut short?): ${e.message}`);
  }
}
