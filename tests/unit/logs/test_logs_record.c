/* hl-logs' records as JSON lines: the spec's fields, escaping of invalid
 * UTF-8 and controls, truncation with a marker, the fields checker. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lg_record.h"

static lg_record_t rec(const char *msg, size_t n)
{
    lg_record_t r = {0};
    r.ts_us = 1765065600123456ULL;
    r.priority = 3;
    r.name = (lg_text_t){"hl-health", 9};
    r.message = (lg_text_t){msg, n};
    r.unit = (lg_text_t){"hl-health.service", 17};
    r.boot_id = (lg_text_t){"0123456789abcdef0123456789abcdef", 32};
    r.origin = (lg_text_t){"journal", 7};
    r.pid = 42;
    r.seq = 7;
    lg_record_set_id(&r, "s=1;i=2", 7);
    return r;
}

static void test_fields(void)
{
    lg_record_t r = rec("hello", 5);
    r.fields = (lg_text_t){"{\"service\":\"x\",\"duration\":1.5}", 30};
    hlb_buf_t b = {0};
    CHECK(!lg_record_json(&r, 65536, &b));
    CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
    CHECK(strstr(b.data, "\"asctime\":\"2025-12-07T00:00:00.123456Z\"") != NULL);
    CHECK(strstr(b.data, "\"levelname\":\"ERROR\"") != NULL);
    CHECK(strstr(b.data, "\"name\":\"hl-health\"") != NULL);
    CHECK(strstr(b.data, "\"message\":\"hello\"") != NULL);
    CHECK(strstr(b.data, "\"service\":\"x\",\"duration\":1.5,") != NULL);
    CHECK(strstr(b.data, "\"pid\":42") != NULL);
    CHECK(strstr(b.data, "\"seq\":7") != NULL);
    CHECK(strlen(r.id) == 32);
    CHECK(lg_json_object_valid(b.data, b.len - 1));
    hlb_buf_free(&b);
}

static void test_escape(void)
{
    const char raw[] = "a\"b\\c\n\t\x01\x1b[31m \xff\xfe \xc3\xa9 \xc2\x85 \xed\xa0\x80 \xe2\x82";
    lg_record_t r = rec(raw, sizeof raw - 1);
    hlb_buf_t b = {0};
    lg_record_json(&r, 65536, &b);
    CHECK(strstr(b.data, "a\\\"b\\\\c\\n\\t\\u0001\\u001b[31m \\u00ff\\u00fe \xc3\xa9 \\u0085 "
                         "\\u00ed\\u00a0\\u0080 \\u00e2\\u0082\"") != NULL);
    CHECK(lg_json_object_valid(b.data, b.len - 1));
    for (size_t i = 0; i + 1 < b.len; i++)
        CHECK((unsigned char)b.data[i] >= 0x20);
    hlb_buf_free(&b);
}

static void test_bad_fields_dropped(void)
{
    const char *bad[] = {"{\"a\":}", "{\"a\":1,}", "[1]", "{\"a\":\"\x01\"}", "{\"a\":1} x",
                         "{\"a\":\"\xff\"}", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(!lg_json_object_valid(bad[i], strlen(bad[i])));
        lg_record_t r = rec("m", 1);
        r.fields = (lg_text_t){bad[i], strlen(bad[i])};
        hlb_buf_t b = {0};
        lg_record_json(&r, 65536, &b);
        CHECK(strncmp(b.data, "{\"asctime\"", 10) == 0);
        CHECK(lg_json_object_valid(b.data, b.len - 1));
        hlb_buf_free(&b);
    }
    const char *good = "{\"a\":[1,2.5e3,-0,true,null,{\"b\":\"\\u00e9\"}]} ";
    CHECK(lg_json_object_valid(good, strlen(good)));
}

static void test_truncation(void)
{
    size_t n = 200000;
    char *big = malloc(n);
    REQUIRE(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i % 3 == 0 ? '\x01' : 'x'); /* escaping makes it grow */
    lg_record_t r = rec(big, n);
    hlb_buf_t b = {0};
    CHECK(lg_record_json(&r, 8192, &b));
    CHECK(b.len <= 8192);
    CHECK(strstr(b.data, "...[truncated ") != NULL);
    CHECK(strstr(b.data, "\"truncated\":true}") != NULL);
    CHECK(lg_json_object_valid(b.data, b.len - 1));
    hlb_buf_free(&b);
    /* UTF-8 is never cut inside a character */
    for (size_t i = 0; i + 1 < n; i += 2)
        big[i] = '\xc3', big[i + 1] = '\xa9';
    r = rec(big, n);
    CHECK(lg_record_json(&r, 4096, &b));
    CHECK(lg_json_object_valid(b.data, b.len - 1));
    CHECK(strstr(b.data, "\\u00c3") == NULL);
    hlb_buf_free(&b);
    free(big);
}

static void test_ids(void)
{
    lg_record_t a = rec("x", 1), b = rec("x", 1);
    CHECK_STR(a.id, b.id);
    lg_record_set_id(&b, "s=1;i=3", 7);
    CHECK(strcmp(a.id, b.id) != 0);
    CHECK_EQ(lg_priority_parse("warning", 7), 4);
    CHECK_EQ(lg_priority_parse("ERROR", 5), 3);
    CHECK_EQ(lg_priority_parse("nope", 4), -1);
    CHECK_STR(lg_levelname(7), "DEBUG");
}

int main(void)
{
    TEST(test_fields);
    TEST(test_escape);
    TEST(test_bad_fields_dropped);
    TEST(test_truncation);
    TEST(test_ids);
    return check_done();
}
