// Which GPUs CUDA forward compatibility applies to: NVIDIA's CUDA compatibility guide limits it to
// data-center GPUs, told apart here by nvidia-smi's product_brand (facts.gpu.devices[].brand).

/**
 * Whether nvidia-smi's product_brand names a data-center GPU: `NVIDIA` (A100, H100, L40S, T4 on current
 * drivers) or `Tesla` (older drivers). GeForce, Quadro, NVIDIA RTX (workstation) and the vGPU guest brands
 * are not; forward compatibility does not apply to them. Null (unknown) for a missing or unrecognised brand,
 * and for `NVIDIA Virtual Compute Server` (a vGPU guest on a data-center GPU, where the vGPU release decides).
 */
export function isDataCenterBrand(brand: string | null): boolean | null {
  if (brand === null) return null;
  if (brand === 'NVIDIA' || brand === 'Tesla') return true;
  const notDataCenter = [
    'GeForce',
    'GeForce RTX',
    'Titan',
    'Titan RTX',
    'Quadro',
    'Quadro RTX',
    'NVIDIA RTX',
    'NVS',
    'GRID',
    'NVIDIA Virtual Applications',
    'NVIDIA Virtual PC',
    'NVIDIA RTX Virtual Workstation',
    'NVIDIA Cloud Gaming',
  ];
  return notDataCenter.includes(brand) ? false : null;
}
