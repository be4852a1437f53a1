// After the tests pass: the learner's implementation against the core's (step 4).
export async function compareWithCore() {}
