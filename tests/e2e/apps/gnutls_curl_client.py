"""HTTPS requests through Debian's libcurl-gnutls (libcurl3-gnutls), the
flavour git, apt and many Debian tools use: libcurl loaded with ctypes, no
Python TLS involved. The process maps libgnutls.so.30 and no libssl.

Usage: gnutls_curl_client.py URL [URL...]   prints "<status> <http version>" per URL
"""
import ctypes
import sys

CURLOPT_URL = 10002
CURLOPT_SSL_VERIFYPEER = 64
CURLOPT_SSL_VERIFYHOST = 81
CURLOPT_HTTP_VERSION = 84
CURLOPT_WRITEFUNCTION = 20011
CURLINFO_RESPONSE_CODE = 0x200002
CURLINFO_HTTP_VERSION = 0x20002E
CURL_HTTP_VERSION_1_1 = 2
CURL_GLOBAL_DEFAULT = 3

WRITE = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p)


def main():
    curl = ctypes.CDLL("libcurl-gnutls.so.4")
    curl.curl_easy_init.restype = ctypes.c_void_p
    curl.curl_easy_setopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    curl.curl_easy_perform.argtypes = [ctypes.c_void_p]
    curl.curl_easy_getinfo.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    curl.curl_easy_strerror.restype = ctypes.c_char_p
    curl.curl_global_init(CURL_GLOBAL_DEFAULT)
    sink = WRITE(lambda data, size, n, user: size * n)  # bodies are discarded
    handle = curl.curl_easy_init()  # one handle: the connection is kept alive across URLs
    for url in sys.argv[1:]:
        curl.curl_easy_setopt(handle, CURLOPT_URL, ctypes.c_char_p(url.encode()))
        curl.curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, ctypes.c_void_p(0))
        curl.curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, ctypes.c_void_p(0))
        curl.curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, ctypes.c_void_p(CURL_HTTP_VERSION_1_1))
        curl.curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, ctypes.cast(sink, ctypes.c_void_p))
        rc = curl.curl_easy_perform(handle)
        if rc != 0:
            print(f"error {curl.curl_easy_strerror(rc).decode()}", flush=True)
            sys.exit(1)
        code, version = ctypes.c_long(0), ctypes.c_long(0)
        curl.curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, ctypes.byref(code))
        curl.curl_easy_getinfo(handle, CURLINFO_HTTP_VERSION, ctypes.byref(version))
        print(f"{code.value} {version.value}", flush=True)
    curl.curl_easy_cleanup(handle)


if __name__ == "__main__":
    main()
