// What the views share: the events seen so far (newest last, at most 500).
export const state = { log: [] };
