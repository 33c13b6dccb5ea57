// Valid synthetic identity numbers, from docs/contract/formats.md (nobody's: tests and demos only).
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const USCC = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** An 18-character resident ID number: area 440305, born 1990-01-01, sequence `n % 1000`, MOD 11-2 check. */
export function idCardNumber(n) {
  const body = `440305${'19900101'}${String(n % 1000).padStart(3, '0')}`;
  const s = [...body].reduce((t, c, i) => t + Number(c) * ID_WEIGHTS[i], 0);
  return body + '10X98765432'[s % 11];
}

/** An 18-character unified social credit code: 91440300, nine characters drawn from `n`, the check. */
export function licenceNumber(n) {
  let tail = '';
  for (let i = 0, k = n; i < 9; i += 1, k = Math.floor(k / 31)) tail += USCC[k % 31];
  const body = `91440300${tail}`;
  const s = [...body].reduce((t, c, i) => t + USCC.indexOf(c) * USCC_WEIGHTS[i], 0);
  return body + USCC[(31 - (s % 31)) % 31];
}
