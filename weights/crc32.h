/* weights/crc32.h — CRC-32 as zlib, PNG and the .ccm format compute it:
 * the ISO-HDLC polynomial, reflected (0xEDB88320), initial and final XOR
 * 0xFFFFFFFF. crc32("123456789") = 0xCBF43926. */
#ifndef CC_CRC32_H
#define CC_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a running CRC over n more bytes; start with crc = 0, so
 * cc_crc32(cc_crc32(0, a, na), b, nb) == CRC of a followed by b. */
uint32_t cc_crc32(uint32_t crc, const void *p, size_t n);

#endif
