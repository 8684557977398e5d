/* SPDX-License-Identifier: MIT
 * A stand-in for Windows' bcryptprimitives.dll, for CI under Wine 8 only: Rust's standard
 * library imports ProcessPrng from it (Windows 10+), which Wine 8 does not ship, so a Rust
 * program would not even load. Wine's bcrypt.dll has the randomness; this only forwards it.
 * Never shipped: .ci/windows.sh builds it into the temporary Wine prefix. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = (len > 0x10000000 ? 0x10000000 : (ULONG)len);
    if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
