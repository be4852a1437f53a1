// The exercises' entry point, loaded as a chunk of its own by main.js.
import { mountExercises as mount } from './section.js';
import { compareWithCore } from './compare.js';

export function mountExercises(parent, { core }) {
  return mount(parent, { core, compare: compareWithCore });
}
