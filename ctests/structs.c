/* The ABI rules a C program relies on, through the real header: structs
 * that grow (struct_size) as an older and a newer caller see them, what is
 * refused and that a refusal writes nothing; and the getters of the setters
 * that lacked one (proxy, CA file, client certificate paths, size hint,
 * SHA-256). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "common.h"

#define SENTINEL 0x5A

static const char *g_dir;
static qm_manager_t g_mgr;

static int all_bytes(const void *p, int value, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i] != (unsigned char)value) return 0;
    return 1;
}

/* 1 when the calling thread's last error message contains needle. */
static int last_error_says(const char *needle) {
    char text[1024];
    size_t needed = 0;
    if (QM_FAILED(qm_get_last_error_message(text, sizeof text, &needed))) return 0;
    if (!strstr(text, needle)) {
        fprintf(stderr, "    last error: %s (wanted \"%s\")\n", text, needle);
        return 0;
    }
    return 1;
}

static qm_job_t new_job(const char *name) {
    qm_job_t job = 0;
    CHECK_HR(qm_job_create(g_mgr, name, &job), QM_S_OK);
    return job;
}

/* A newer caller's structs: today's with one field appended. */
struct newer_progress {
    qm_job_progress p;
    uint64_t added;
};
struct newer_file_set_info {
    qm_file_set_info f;
    uint64_t added;
};
struct newer_range {
    qm_file_range r;
    uint64_t added;
};

/* Out-structs: the size is checked before anything is written; a bigger
 * struct gets the library's fields and learns how many bytes they are. */
static void out_structs(void) {
    qm_job_t job = new_job("out structs");
    qm_job_progress p;
    qm_job_times t;
    qm_file_progress fp;
    struct newer_progress newer;
    static unsigned char big[4096 + 16];
    const uint32_t bad_sizes[4] = {0, 4, (uint32_t)sizeof(qm_job_progress) - 1, 4097};
    int i;

    CHECK_HR(qm_job_add_file(job, "http://example.com/a", ct_path(g_dir, "out-a.bin")), QM_S_OK);

    /* The initialisers give the size; the library leaves it so. */
    {
        qm_job_progress init = QM_JOB_PROGRESS_INIT;
        qm_file_progress finit = QM_FILE_PROGRESS_INIT;
        qm_job_times tinit = QM_JOB_TIMES_INIT;
        qm_job_error einit = QM_JOB_ERROR_INIT;
        CHECK_EQ(init.struct_size, sizeof init);
        CHECK_EQ(finit.struct_size, sizeof finit);
        CHECK_EQ(tinit.struct_size, sizeof tinit);
        CHECK_EQ(einit.struct_size, sizeof einit);
        CHECK_HR(qm_job_get_progress_ex(job, &init), QM_S_OK);
        CHECK_EQ(init.struct_size, sizeof init);
        CHECK_EQ(init.files_total, 1);
        CHECK_EQ(init.bytes_total, QM_SIZE_UNKNOWN);
        CHECK_HR(qm_job_get_file_progress(job, 0, &finit), QM_S_OK);
        CHECK_EQ(finit.struct_size, sizeof finit);
        CHECK_HR(qm_job_get_times(job, &tinit), QM_S_OK);
        CHECK_EQ(tinit.struct_size, sizeof tinit);
        CHECK(tinit.creation_ms > 0);
    }

    /* Too small, or never set: QM_E_INVALIDARG with a message, nothing written. */
    for (i = 0; i < 4; i++) {
        memset(&p, SENTINEL, sizeof p);
        p.struct_size = bad_sizes[i];
        CHECK_HR(qm_job_get_progress_ex(job, &p), QM_E_INVALIDARG);
        CHECK(last_error_says("struct_size"));
        CHECK_EQ(p.struct_size, bad_sizes[i]);
        CHECK(all_bytes((const char *)&p + 4, SENTINEL, sizeof p - 4));
    }
    memset(&t, SENTINEL, sizeof t);
    t.struct_size = 0;
    CHECK_HR(qm_job_get_times(job, &t), QM_E_INVALIDARG);
    CHECK(all_bytes((const char *)&t + 4, SENTINEL, sizeof t - 4));
    memset(&fp, SENTINEL, sizeof fp);
    fp.struct_size = sizeof fp - 8;
    CHECK_HR(qm_job_get_file_progress(job, 0, &fp), QM_E_INVALIDARG);
    CHECK(all_bytes((const char *)&fp + 4, SENTINEL, sizeof fp - 4));
    {
        qm_job_error e;
        memset(&e, SENTINEL, sizeof e);
        e.struct_size = 3;
        CHECK_HR(qm_job_get_error(job, &e), QM_E_INVALIDARG);
        CHECK(all_bytes((const char *)&e + 4, SENTINEL, sizeof e - 4));
    }

    /* A newer caller's bigger struct: today's fields, struct_size shrunk to
       what was filled, the field the library does not know left alone. */
    memset(&newer, SENTINEL, sizeof newer);
    newer.p.struct_size = sizeof newer;
    CHECK_HR(qm_job_get_progress_ex(job, &newer.p), QM_S_OK);
    CHECK_EQ(newer.p.struct_size, sizeof(qm_job_progress));
    CHECK_EQ(newer.p.files_total, 1);
    CHECK_EQ(newer.p.reserved, 0);
    CHECK(all_bytes(&newer.added, SENTINEL, sizeof newer.added));

    /* The largest size accepted. */
    memset(big, SENTINEL, sizeof big);
    {
        qm_job_times *bt = (qm_job_times *)(void *)big;
        bt->struct_size = 4096;
        CHECK_HR(qm_job_get_times(job, bt), QM_S_OK);
        CHECK_EQ(bt->struct_size, sizeof(qm_job_times));
        CHECK(all_bytes(big + sizeof(qm_job_times), SENTINEL, sizeof big - sizeof(qm_job_times)));
    }

    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

static uint32_t file_count(qm_job_t job) {
    uint32_t n = 99;
    CHECK_HR(qm_job_get_file_count(job, &n), QM_S_OK);
    return n;
}

/* In-struct arrays: the first element's struct_size is the stride; every
 * element must carry the same; fields this library does not know must be 0;
 * reserved fields must be 0; all or nothing. */
static void in_arrays(void) {
    qm_job_t job = new_job("in arrays");
    struct newer_file_set_info newer[2];
    qm_file_set_info today[2] = {QM_FILE_SET_INFO_INIT, QM_FILE_SET_INFO_INIT};
    char name[4096];
    size_t needed = 0;
    uint64_t hint = 0;

    memset(newer, 0, sizeof newer);
    newer[0].f.struct_size = newer[1].f.struct_size = sizeof newer[0];
    newer[0].f.remote_name = "http://example.com/n0";
    newer[0].f.local_name = ct_path(g_dir, "n0.bin");
    newer[0].f.size_hint = 111;
    newer[1].f.remote_name = "http://example.com/n1";
    newer[1].f.local_name = ct_path(g_dir, "n1.bin");
    newer[1].f.size_hint = 222;

    /* A field this library does not know, set: refused, nothing added. */
    newer[1].added = 1;
    CHECK_HR(qm_job_add_files(job, 2, &newer[0].f), QM_E_INVALIDARG);
    CHECK(last_error_says("files[1] sets fields this library does not know"));
    CHECK_EQ(file_count(job), 0);
    /* Elements of different sizes: refused. */
    newer[1].added = 0;
    newer[1].f.struct_size = sizeof(qm_file_set_info);
    CHECK_HR(qm_job_add_files(job, 2, &newer[0].f), QM_E_INVALIDARG);
    CHECK(last_error_says("every element must carry the same"));
    CHECK_EQ(file_count(job), 0);
    /* The same with a garbage count: refused at element 1 as well, not an
     * abort on allocating room for four billion elements first (found by
     * an attack). */
    CHECK_HR(qm_job_add_files(job, UINT32_MAX, &newer[0].f), QM_E_INVALIDARG);
    CHECK(last_error_says("every element must carry the same"));
    CHECK_EQ(file_count(job), 0);
    /* A reserved field that is not 0: refused. */
    newer[1].f.struct_size = sizeof newer[1];
    newer[1].f.reserved = 7;
    CHECK_HR(qm_job_add_files(job, 2, &newer[0].f), QM_E_INVALIDARG);
    CHECK(last_error_says("reserved"));
    newer[1].f.reserved = 0;
    /* A size below the first version's: refused. */
    today[0].struct_size = 8;
    today[0].remote_name = "http://example.com/t0";
    today[0].local_name = ct_path(g_dir, "t0.bin");
    CHECK_HR(qm_job_add_files(job, 1, today), QM_E_INVALIDARG);
    CHECK(last_error_says("struct_size"));
    CHECK_EQ(file_count(job), 0);

    /* The newer caller's array with the new field 0: read by its stride. */
    CHECK_HR(qm_job_add_files(job, 2, &newer[0].f), QM_S_OK);
    CHECK_EQ(file_count(job), 2);
    CHECK_HR(qm_job_get_file_local_name(job, 1, name, sizeof name, &needed), QM_S_OK);
    CHECK(strcmp(name, ct_path(g_dir, "n1.bin")) == 0);
    CHECK_HR(qm_job_get_file_size_hint(job, 1, &hint), QM_S_OK);
    CHECK_EQ(hint, 222);
    /* Today's struct. */
    today[0].struct_size = sizeof today[0];
    CHECK_HR(qm_job_add_files(job, 1, today), QM_S_OK);
    CHECK_EQ(file_count(job), 3);

    /* Ranges, in and out. */
    {
        struct newer_range in[2], out[3];
        qm_file_range plain[2] = {QM_FILE_RANGE_INIT, QM_FILE_RANGE_INIT};
        uint32_t count = 0;
        memset(in, 0, sizeof in);
        in[0].r.struct_size = in[1].r.struct_size = sizeof in[0];
        in[0].r.initial_offset = 100;
        in[0].r.length = 10;
        in[1].r.initial_offset = 500;
        in[1].r.length = QM_LENGTH_TO_EOF;
        in[0].added = 9;
        CHECK_HR(qm_job_add_file_with_ranges(job, "http://example.com/r", ct_path(g_dir, "r.bin"), 2, &in[0].r),
                 QM_E_INVALIDARG);
        in[0].added = 0;
        in[1].r.reserved = 1;
        CHECK_HR(qm_job_add_file_with_ranges(job, "http://example.com/r", ct_path(g_dir, "r.bin"), 2, &in[0].r),
                 QM_E_INVALIDARG);
        in[1].r.reserved = 0;
        CHECK_EQ(file_count(job), 3);
        CHECK_HR(qm_job_add_file_with_ranges(job, "http://example.com/r", ct_path(g_dir, "r.bin"), 2, &in[0].r),
                 QM_S_OK);

        /* Out: a newer caller's array; each element gets today's 24 bytes. */
        memset(out, SENTINEL, sizeof out);
        out[0].r.struct_size = out[1].r.struct_size = sizeof out[0];
        out[1].r.struct_size = sizeof(qm_file_range); /* not the same: refused */
        CHECK_HR(qm_job_get_file_ranges(job, 3, &out[0].r, 3, &count), QM_E_INVALIDARG);
        CHECK_EQ(count, 2);
        CHECK(all_bytes((const char *)&out[0] + 4, SENTINEL, sizeof out[0] - 4));
        out[1].r.struct_size = sizeof out[1];
        CHECK_HR(qm_job_get_file_ranges(job, 3, &out[0].r, 3, &count), QM_S_OK);
        CHECK_EQ(count, 2);
        CHECK_EQ(out[0].r.struct_size, sizeof(qm_file_range));
        CHECK_EQ(out[0].r.initial_offset, 100);
        CHECK_EQ(out[1].r.struct_size, sizeof(qm_file_range));
        CHECK_EQ(out[1].r.length, QM_LENGTH_TO_EOF);
        CHECK_EQ(out[1].r.reserved, 0);
        CHECK(all_bytes(&out[0].added, SENTINEL, sizeof out[0].added));
        CHECK(all_bytes(&out[1].added, SENTINEL, sizeof out[1].added));
        CHECK(all_bytes(&out[2], SENTINEL, sizeof out[2])); /* past the count: untouched */
        /* Today's array. */
        CHECK_HR(qm_job_get_file_ranges(job, 3, plain, 2, &count), QM_S_OK);
        CHECK_EQ(plain[1].initial_offset, 500);
        /* cap 0 counts without looking at out. */
        CHECK_HR(qm_job_get_file_ranges(job, 3, NULL, 0, &count), QM_S_OK);
        CHECK_EQ(count, 2);
    }

    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* Reads one string getter of a job into buf; returns its code. */
typedef qm_hresult (*job_string_fn)(qm_job_t, char *, size_t, size_t *);
static qm_hresult read_string(qm_job_t job, job_string_fn fn, char *buf, size_t cap) {
    size_t needed = 0;
    qm_hresult hr;
    memset(buf, SENTINEL, cap);
    hr = fn(job, NULL, 0, &needed);
    if (QM_FAILED(hr)) return hr;
    if (!CHECK(needed <= cap)) return QM_E_FAIL;
    hr = fn(job, buf, cap, &needed);
    CHECK_EQ(strlen(buf) + 1, needed);
    return hr;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

/* Every setter has a getter: what was set comes back as set. */
static void getters(void) {
    qm_job_t job = new_job("getters");
    char buf[4096], key[4096];
    size_t cert_needed = 0, key_needed = 0;
    uint64_t hint = 1;
    const char *ca = ct_path(g_dir, "ca.pem"), *cert = ct_path(g_dir, "client.pem");
    const char *keyfile = ct_path(g_dir, "client.key");
    char ca_path[4096], cert_path[4096], key_path[4096];
    qm_file_set_info f = QM_FILE_SET_INFO_INIT;

    snprintf(ca_path, sizeof ca_path, "%s", ca);
    snprintf(cert_path, sizeof cert_path, "%s", cert);
    snprintf(key_path, sizeof key_path, "%s", keyfile);
    CHECK(write_text(ca_path, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
    CHECK(write_text(cert_path, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
    CHECK(write_text(key_path, "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"));

    /* The proxy: the environment (S_FALSE, ""), direct (""), or the URL as given. */
    CHECK_HR(read_string(job, qm_job_get_proxy, buf, sizeof buf), QM_S_FALSE);
    CHECK(strcmp(buf, "") == 0);
    CHECK_HR(qm_job_set_proxy(job, ""), QM_S_OK);
    CHECK_HR(read_string(job, qm_job_get_proxy, buf, sizeof buf), QM_S_OK);
    CHECK(strcmp(buf, "") == 0);
    CHECK_HR(qm_job_set_proxy(job, "socks5h://user:secret@proxy.example:1080"), QM_S_OK);
    CHECK_HR(read_string(job, qm_job_get_proxy, buf, sizeof buf), QM_S_OK);
    CHECK(strcmp(buf, "socks5h://user:secret@proxy.example:1080") == 0);
    CHECK_HR(qm_job_set_proxy(job, NULL), QM_S_OK);
    CHECK_HR(read_string(job, qm_job_get_proxy, buf, sizeof buf), QM_S_FALSE);
    CHECK_HR(qm_job_get_proxy(job, buf, sizeof buf, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_proxy(0xBADull, buf, sizeof buf, &cert_needed), QM_E_HANDLE);

    /* The CA file. */
    CHECK_HR(read_string(job, qm_job_get_ca_file, buf, sizeof buf), QM_S_FALSE);
    CHECK_HR(qm_job_set_ca_file(job, ca_path), QM_S_OK);
    CHECK_HR(read_string(job, qm_job_get_ca_file, buf, sizeof buf), QM_S_OK);
    CHECK(strcmp(buf, ca_path) == 0);
    CHECK_HR(qm_job_set_ca_file(job, NULL), QM_S_OK);
    CHECK_HR(read_string(job, qm_job_get_ca_file, buf, sizeof buf), QM_S_FALSE);
    CHECK(strcmp(buf, "") == 0);

    /* The client certificate: two paths, all or nothing, never the key itself. */
    CHECK_HR(qm_job_get_client_certificate(job, NULL, 0, &cert_needed, NULL, 0, &key_needed), QM_S_FALSE);
    CHECK_EQ(cert_needed, 1);
    CHECK_EQ(key_needed, 1);
    CHECK_HR(qm_job_set_client_certificate(job, cert_path, key_path), QM_S_OK);
    CHECK_HR(qm_job_get_client_certificate(job, NULL, 0, &cert_needed, NULL, 0, &key_needed), QM_S_OK);
    CHECK_EQ(cert_needed, strlen(cert_path) + 1);
    CHECK_EQ(key_needed, strlen(key_path) + 1);
    memset(buf, SENTINEL, sizeof buf);
    CHECK_HR(qm_job_get_client_certificate(job, buf, sizeof buf, &cert_needed, key, 4, &key_needed),
             QM_E_INSUFFICIENT_BUFFER);
    CHECK(all_bytes(buf, SENTINEL, 16)); /* nothing copied */
    CHECK_EQ(key_needed, strlen(key_path) + 1);
    CHECK_HR(qm_job_get_client_certificate(job, buf, sizeof buf, &cert_needed, key, sizeof key, NULL),
             QM_E_POINTER);
    CHECK_HR(qm_job_get_client_certificate(job, buf, sizeof buf, &cert_needed, key, sizeof key, &key_needed),
             QM_S_OK);
    CHECK(strcmp(buf, cert_path) == 0);
    CHECK(strcmp(key, key_path) == 0);
    CHECK(strstr(key, "PRIVATE") == NULL);
    CHECK_HR(qm_job_set_client_certificate(job, NULL, NULL), QM_S_OK);
    CHECK_HR(qm_job_get_client_certificate(job, buf, sizeof buf, &cert_needed, key, sizeof key, &key_needed),
             QM_S_FALSE);
    CHECK(strcmp(buf, "") == 0 && strcmp(key, "") == 0);

    /* A file's size hint and SHA-256. */
    f.remote_name = "http://example.com/hinted";
    f.local_name = ct_path(g_dir, "hinted.bin");
    f.size_hint = 12345;
    CHECK_HR(qm_job_add_files(job, 1, &f), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, "http://example.com/plain", ct_path(g_dir, "plain.bin")), QM_S_OK);
    CHECK_HR(qm_job_get_file_size_hint(job, 0, &hint), QM_S_OK);
    CHECK_EQ(hint, 12345);
    CHECK_HR(qm_job_get_file_size_hint(job, 1, &hint), QM_S_OK);
    CHECK_EQ(hint, 0);
    hint = 7;
    CHECK_HR(qm_job_get_file_size_hint(job, 2, &hint), QM_E_ITEM_NOT_FOUND);
    CHECK_EQ(hint, 7);
    CHECK_HR(qm_job_get_file_size_hint(job, 0, NULL), QM_E_POINTER);
    {
        size_t needed = 0;
        CHECK_HR(qm_job_get_file_sha256(job, 0, buf, sizeof buf, &needed), QM_S_FALSE);
        CHECK(strcmp(buf, "") == 0);
        CHECK_HR(qm_job_set_file_sha256(job, 0, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
                 QM_S_OK);
        CHECK_HR(qm_job_get_file_sha256(job, 0, NULL, 0, &needed), QM_S_OK);
        CHECK_EQ(needed, 65);
        CHECK_HR(qm_job_get_file_sha256(job, 0, buf, sizeof buf, &needed), QM_S_OK);
        CHECK(strcmp(buf, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
        CHECK_HR(qm_job_get_file_sha256(job, 5, buf, sizeof buf, &needed), QM_E_ITEM_NOT_FOUND);
        CHECK_HR(qm_job_set_file_sha256(job, 0, NULL), QM_S_OK);
        CHECK_HR(qm_job_get_file_sha256(job, 0, buf, sizeof buf, &needed), QM_S_FALSE);
    }

    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    CHECK_EQ(qm_abi_version(), QM_ABI_VERSION);
    if (!CHECK_HR(ct_open_manager(&g_mgr), QM_S_OK)) return ct_finish("structs");
    out_structs();
    in_arrays();
    getters();
    CHECK_HR(qm_manager_close(g_mgr), QM_S_OK);
    return ct_finish("structs");
}
