/* A stand-in for Windows' bcryptprimitives.dll, for running Rust programs under Debian's Wine 8,
 * which lacks it: Rust's standard library imports ProcessPrng from it to seed its hash maps.
 * Built by `cargo xtask test` into the test-only Wine prefix; never shipped. */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
