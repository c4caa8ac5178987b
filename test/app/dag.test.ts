import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkEdges, decodeDagArray, encodeDagArray, findCycle, roots, sinks } from '../../src/app/dag.js';

test('the worked example of docs/original-system.md (DAG encoding) decodes to the diamond and encodes back', () => {
  const arr = [0, 1, 1, 2, 0, 2, 3, 4, 4, 1, 2, 3, 3];
  const { edges, problems, used } = decodeDagArray(arr, 4);
  assert.deepEqual(problems, []);
  assert.equal(used, 13);
  assert.deepEqual(edges, [
    { from: 0, to: 1 },
    { from: 0, to: 2 },
    { from: 1, to: 3 },
    { from: 2, to: 3 },
  ]);
  assert.deepEqual(encodeDagArray(edges, 4), arr);
});

test('a chain and a wide fan-out/fan-in', () => {
  const chain = Array.from({ length: 9 }, (_, k) => ({ from: k, to: k + 1 }));
  const arr = encodeDagArray(chain, 10);
  assert.deepEqual(arr.slice(0, 10), [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(decodeDagArray(arr, 10).edges, chain);
  assert.deepEqual(roots(chain, 10), [0]);
  assert.deepEqual(sinks(chain, 10), [9]);

  const width = 60;
  const fan = [
    ...Array.from({ length: width }, (_, k) => ({ from: 0, to: k + 1 })),
    ...Array.from({ length: width }, (_, k) => ({ from: k + 1, to: width + 1 })),
  ];
  const n = width + 2;
  const fanArr = encodeDagArray(fan, n);
  assert.equal(fanArr[n - 1], width); // the sink's in-count
  assert.equal(fanArr.length, 2 * n + 1 + 2 * width);
  assert.deepEqual(decodeDagArray(fanArr, n).edges, fan);
  assert.deepEqual(checkEdges(fan, n), []);
});

test('edges are grouped by parent in the array whatever order they are given in', () => {
  const edges = [
    { from: 2, to: 3 },
    { from: 0, to: 2 },
    { from: 0, to: 1 },
  ];
  assert.deepEqual(decodeDagArray(encodeDagArray(edges, 4), 4).edges, [
    { from: 0, to: 2 },
    { from: 0, to: 1 },
    { from: 2, to: 3 },
  ]);
});

test('structural problems name the array index', () => {
  const at = (arr: number[], n: number) => decodeDagArray(arr, n).problems.map((p) => [p.dagIndex ?? p.key, p.message]);
  assert.deepEqual(at([0, 0, 0], 2), [['dag', 'expected at least 5 values for 2 nodes (2 in-counts, 2 offsets, the end), found 3']]);
  assert.deepEqual(at([0, 1, 1, 0, 2, 1, 2, 1, 2], 3), [[5, "offsets must not decrease: node 2's start offset is 1, below node 1's 2"]]);
  assert.deepEqual(at([0, 1, 0, 2, 1, 1], 2), [[4, "offsets must not decrease: the end offset is 1, below node 1's 2"]]);
  assert.match(String(at([0, 1, 0, 1, 3, 1], 2)[0][1]), /the end offset 3 is past the end of the child list: only 1 value follows it/);
  assert.deepEqual(at([0, 1, 0, 1, 1, 5], 2), [[5, 'child of node 0 is 5, expected a node id 0..1']]);
  assert.deepEqual(at([0, 2, 0, 1, 1, 1], 2), [[1, 'in-count of node 1 is 2, but 1 edge lead to it']]);
  assert.deepEqual(at([0, 1, 1, 1, 1, 1], 2), [[2, "node 0's children must start at offset 0, found 1"]]);
});

test('self loops, duplicates and cycles are found; the cycle is named', () => {
  assert.match(checkEdges([{ from: 1, to: 1 }], 2)[0].message, /self loop on node 1/);
  assert.match(
    checkEdges(
      [
        { from: 0, to: 1 },
        { from: 0, to: 1 },
      ],
      2,
    )[0].message,
    /duplicate edge 0 -> 1 \(also edge 0\)/,
  );
  const cyc = checkEdges(
    [
      { from: 0, to: 1 },
      { from: 1, to: 2 },
      { from: 2, to: 3 },
      { from: 3, to: 1 },
    ],
    4,
  );
  assert.equal(cyc.length, 1);
  assert.match(cyc[0].message, /^cycle through node \d: (\d) -> \d -> \d -> \1$/);
});

test('property: random DAGs survive encode/decode; a back edge on a path makes a cycle', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 40 }).chain((n) =>
        fc.tuple(
          fc.constant(n),
          fc.uniqueArray(
            fc.tuple(fc.nat(n - 1), fc.nat(n - 1)).filter(([a, b]) => a < b),
            { maxLength: 80, selector: ([a, b]) => `${a},${b}` },
          ),
        ),
      ),
      ([n, pairs]) => {
        const edges = pairs.map(([from, to]) => ({ from, to })).sort((x, y) => x.from - y.from);
        const decoded = decodeDagArray(encodeDagArray(edges, n), n);
        assert.deepEqual(decoded.problems, []);
        assert.deepEqual(decoded.edges, edges);
        assert.equal(findCycle(edges, n), undefined);
        if (edges.length) {
          const back = { from: edges[0].to, to: edges[0].from };
          const cycle = findCycle([...edges, back], n);
          assert.ok(cycle && cycle.length >= 2);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('a 255-node chain is checked without deep recursion', () => {
  const edges = Array.from({ length: 254 }, (_, k) => ({ from: k, to: k + 1 }));
  assert.deepEqual(checkEdges(edges, 255), []);
  assert.ok(findCycle([...edges, { from: 254, to: 0 }], 255));
});
