/* msgpack maps and JSON output. */
#include <hlbus/hlbus.h>
#include <string.h>

#include "check.h"

static char *json_of_map(hlb_map_t *m)
{
    size_t len;
    const void *d = hlb_map_data(m, &len);
    hlb_buf_t b = {0};
    if (hlb_json_msgpack(&b, d, len) < 0)
        return NULL;
    return hlb_buf_steal(&b);
}

int main(void)
{
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "s", "a\"b\n");
    hlb_map_int(m, "i", -5);
    hlb_map_uint(m, "u", 18446744073709551615ULL);
    hlb_map_bool(m, "b", true);
    hlb_map_nil(m, "n");
    hlb_map_double(m, "d", 1.5);
    const char *const v[] = {"x", "y"};
    hlb_map_strv(m, "v", v, 2);
    hlb_map_t *child = hlb_map_new();
    hlb_map_int(child, "k", 1);
    hlb_map_map(m, "c", &child);
    CHECK(child == NULL);
    char *j = json_of_map(m);
    CHECK_MSG(j && strcmp(j, "{\"s\":\"a\\\"b\\n\",\"i\":-5,\"u\":18446744073709551615,"
                             "\"b\":true,\"n\":null,\"d\":1.5,\"v\":[\"x\",\"y\"],\"c\":{\"k\":1}}") == 0,
              "%s", j);
    free(j);

    size_t len;
    const void *d = hlb_map_data(m, &len);
    hlb_mpview_t *view = hlb_mpview_new(d, len);
    CHECK(view != NULL);
    int64_t i;
    bool b;
    double dd;
    char *s = hlb_mpview_str(view, "s");
    CHECK(s && strcmp(s, "a\"b\n") == 0);
    free(s);
    CHECK(hlb_mpview_int(view, "i", &i) == 0 && i == -5);
    CHECK(hlb_mpview_int(view, "u", &i) == -ERANGE);
    CHECK(hlb_mpview_int(view, "s", &i) == -EINVAL);
    CHECK(hlb_mpview_int(view, "nope", &i) == -ENOENT);
    CHECK(hlb_mpview_bool(view, "b", &b) == 0 && b);
    CHECK(hlb_mpview_double(view, "d", &dd) == 0 && dd == 1.5);
    CHECK(hlb_mpview_str(view, "i") == NULL);
    hlb_mpview_destroy(&view);
    CHECK(view == NULL);
    /* not a map, trailing bytes, truncation: refused */
    CHECK(hlb_mpview_new("\x01", 1) == NULL);
    CHECK(hlb_mpview_new(d, len - 1) == NULL);
    unsigned char extra[512];
    memcpy(extra, d, len);
    extra[len] = 0xc0;
    CHECK(hlb_mpview_new(extra, len + 1) == NULL);
    hlb_map_destroy(&m);

    /* JSON strings: invalid UTF-8 and controls still give valid JSON */
    hlb_buf_t out = {0};
    hlb_json_str(&out, "ok \xc3\xa9 \xff\x01 \xed\xa0\x80", 12);
    CHECK_MSG(strcmp(out.data, "\"ok \xc3\xa9 \\u00ff\\u0001 \\u00ed\\u00a0\\u0080\"") == 0, "%s",
              out.data);
    hlb_buf_free(&out);

    /* a proto message by reflection, with a msgpack field expanded */
    hlb_map_t *f = hlb_map_new();
    hlb_map_str(f, "unit", "x.service");
    Hl__Log log = HL__LOG__INIT;
    log.level = "info";
    log.message = "hi";
    log.fields_msgpack.data = (uint8_t *)hlb_map_data(f, &len);
    log.fields_msgpack.len = len;
    hlb_json_proto(&out, &log.base);
    CHECK_MSG(strcmp(out.data, "{\"level\":\"info\",\"message\":\"hi\",\"fields_msgpack\":{\"unit\":\"x.service\"},"
                          "\"in_journal\":false}") == 0,
              "%s", out.data);
    hlb_buf_free(&out);
    /* typed body through the registry; unknown type falls back to base64 */
    size_t plen;
    uint8_t *packed = hlb_body_encode(&log.base, &plen);
    hlb_json_body(&out, "hl.Log", packed, plen);
    CHECK(strncmp(out.data, "{\"level\":\"info\"", 15) == 0);
    hlb_buf_reset(&out);
    hlb_json_body(&out, "no.Such", "abc", 3);
    CHECK(strcmp(out.data, "\"YWJj\"") == 0);
    hlb_buf_reset(&out);
    hlb_json_body(&out, "hl.Log", "\xff\xff\xff", 3); /* does not decode */
    CHECK(out.data[0] == '"');
    hlb_buf_free(&out);
    free(packed);
    hlb_map_destroy(&f);

    /* deeply nested msgpack is refused, not recursed without bound */
    unsigned char deep[100];
    memset(deep, 0x91, sizeof deep - 1); /* fixarray of 1, nested */
    deep[sizeof deep - 1] = 0xc0;
    hlb_buf_t dj = {0};
    CHECK(hlb_json_msgpack(&dj, deep, sizeof deep) == -EINVAL);
    hlb_buf_free(&dj);
    return check_done();
}
