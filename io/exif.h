/* io/exif.h — the one EXIF tag an image reader needs: Orientation (0x0112),
 * how the stored pixels must be turned to show the picture upright. Phones
 * store a portrait photo as a landscape grid plus this tag.
 *
 * p is an EXIF block from its TIFF header on ("II*\0" or "MM\0*", then the
 * offset of IFD0): a JPEG's APP1 payload after "Exif\0\0", or a PNG's eXIf
 * chunk. Untrusted input: every offset and count is checked against n before
 * it is read. Returns the tag's value, 1 to 8, as Pillow's getexif() reads it
 * (a SHORT or LONG of count 1 in IFD0; the last one if it appears twice), and
 * 1 (upright) when there is no such tag, the value is outside 1..8, or the
 * block is malformed. */
#ifndef CC_EXIF_H
#define CC_EXIF_H

#include <stddef.h>

int cc_exif_orientation(const unsigned char *p, size_t n);

#endif
