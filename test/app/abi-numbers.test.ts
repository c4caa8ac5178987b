/**
 * src/app keeps its own copies of a few ABI numbers (definitions are parsed
 * and checked without the addon); they must stay those of common/ataru_abi.h.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, LIMITS } from '../../src/app/model.js';
import { abiConstant } from '../helpers/abi.js';

test('the app model uses the ABI header\'s shared-region, page, vCPU and edge limits', () => {
  assert.equal(BigInt(DEFAULTS.shm_size), abiConstant('SHM_DEFAULT'));
  assert.equal(BigInt(LIMITS.maxShmSize), abiConstant('SHM_MAX'));
  assert.equal(BigInt(LIMITS.pageSize), abiConstant('PAGE_SIZE'));
  assert.equal(BigInt(LIMITS.maxVcpus), abiConstant('MAX_VCPUS'));
  assert.equal(BigInt(LIMITS.maxEdges), abiConstant('MAX_EDGES'));
  assert.ok(LIMITS.maxNodes < Number(abiConstant('MAX_NODES')), 'the guest config has room for every node');
});
