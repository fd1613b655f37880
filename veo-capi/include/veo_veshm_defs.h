/*
 * veo_veshm_defs.h: mode flags of VE shared memory (VESHM). Real-VE only:
 * on the emulated VE the VESHM functions fail with ENOTSUP.
 */
#ifndef VEO_VESHM_DEFS_H_INCLUDED
#define VEO_VESHM_DEFS_H_INCLUDED

enum VESHM_mode_flag {
  VE_SHM_RO = 0x1LL,
  VE_PCISYNC = 0x2LL,
  VE_REGISTER_PCI = 0x4LL,
  VE_MAP_256MB = 0x10LL
};

enum VESHM_additional_mode_flag {
  VE_REGISTER_NONE = 0x1000LL,
  VE_REGISTER_VEMVA = 0x2000LL,
  VE_REGISTER_VEHVA = 0x4000LL,
  VE_MEM_LOCAL = 0x8000LL
};

#endif /* VEO_VESHM_DEFS_H_INCLUDED */
