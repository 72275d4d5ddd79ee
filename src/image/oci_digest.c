/* sha256 digests of blobs (OpenSSL), the names of everything in the image
 * store.  Kept apart from the rest so islet-run does not load libcrypto. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/util.h"

static void
md_freep (EVP_MD_CTX **c)
{
  if (*c)
    EVP_MD_CTX_free (*c);
}

int
islet_digest_fd (int fd, char out[ISLET_DIGEST_LEN + 1], uint64_t *size, struct islet_err *err)
{
  __attribute__ ((cleanup (md_freep))) EVP_MD_CTX *md = EVP_MD_CTX_new ();
  cleanup_free char *buf = islet_xmalloc (1 << 16);
  unsigned char sum[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  uint64_t total = 0;

  if (md == NULL || EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1)
    return islet_fail (err, ISLET_E_SYSTEM, ENOMEM, "sha256");
  for (;;)
    {
      ssize_t n = read (fd, buf, 1 << 16);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "read for sha256");
      if (n == 0)
        break;
      EVP_DigestUpdate (md, buf, (size_t) n);
      total += (uint64_t) n;
    }
  if (EVP_DigestFinal_ex (md, sum, &len) != 1 || len != 32)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "sha256");
  memcpy (out, "sha256:", 7);
  for (unsigned i = 0; i < len; i++)
    snprintf (out + 7 + 2 * i, 3, "%02x", sum[i]);
  if (size)
    *size = total;
  return 0;
}
