// writtenStateOf: our taint and condition as the informer caches them, and nobody else's.
import { describe, expect, it } from 'vitest';
import { makeNames } from '../../aggregator/k8s/names.js';
import { writtenStateOf } from '../../aggregator/kubernetes-integration.js';

const names = makeNames('validator.osmo.nvidia.com/');

describe('writtenStateOf', () => {
  it('picks our taint and condition out of the Node', () => {
    const written = writtenStateOf(
      {
        metadata: { name: 'n' },
        spec: {
          taints: [
            { key: 'other/taint', effect: 'NoExecute' },
            { key: names.taintKey, value: 'true', effect: 'NoSchedule', timeAdded: '2025-01-01T00:00:00Z' },
          ],
        },
        status: {
          conditions: [
            { type: 'Ready', status: 'True' },
            {
              type: names.conditionType,
              status: 'True',
              reason: 'ChecksFailed',
              message: 'gpu.driver',
              lastHeartbeatTime: 'x',
            },
          ],
        },
      },
      names,
    );
    expect(written).toEqual({
      taint: { key: names.taintKey, value: 'true', effect: 'NoSchedule' },
      condition: { type: names.conditionType, status: 'True', reason: 'ChecksFailed', message: 'gpu.driver' },
    });
  });

  it('is null for each part the Node does not carry', () => {
    expect(
      writtenStateOf(
        { metadata: { name: 'n' }, spec: { taints: [{ key: 'other', effect: 'NoSchedule' }] } },
        names,
      ),
    ).toEqual({
      taint: null,
      condition: null,
    });
  });
});
