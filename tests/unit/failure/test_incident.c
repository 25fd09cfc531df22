/* The incident store: ids, lookups, the bound, folded timelines. */
#include <string.h>

#include "check.h"
#include "fl_incident.h"

int main(void)
{
    fl_incidents_t *s = fl_incidents_new(3);
    CHECK(s && fl_incidents_count(s) == 0);
    fl_incident_t *a = fl_incidents_open(s, 100, "web", "service_crash", "critical", "crash",
                                         "web died");
    CHECK(a && a->id == 1 && fl_incident_is_open(a) && strcmp(a->outcome, "open") == 0);
    CHECK(a->nentries == 1 && strcmp(a->entries[0].what, "detected") == 0 &&
          strcmp(a->entries[0].detail, "web died") == 0 && a->entries[0].ts_us == 100);
    fl_incident_add(a, 200, "started", "restart (attempt %d/%d)", 1, 3);
    CHECK(a->nentries == 2 && strcmp(a->entries[1].detail, "restart (attempt 1/3)") == 0);
    fl_incident_close(a, 300, "recovered");
    CHECK(!fl_incident_is_open(a) && a->ended_us == 300 && strcmp(a->outcome, "recovered") == 0);
    fl_incident_close(a, 400, "config-cleared"); /* a later change of outcome */
    CHECK(a->ended_us == 400 && strcmp(a->outcome, "config-cleared") == 0);

    /* the bound: the oldest go first, lookups by id follow */
    for (int i = 0; i < 3; i++)
        CHECK(fl_incidents_open(s, 1000 + i, "x", "t", "s", "p", NULL) != NULL);
    CHECK(fl_incidents_count(s) == 3);
    CHECK(fl_incidents_get(s, 1) == NULL && fl_incidents_get(s, 4) != NULL);
    CHECK(fl_incidents_at(s, 0)->id == 2 && fl_incidents_at(s, 2)->id == 4);
    CHECK(fl_incidents_at(s, 3) == NULL && fl_incidents_get(s, 0) == NULL);
    CHECK(strcmp(fl_incidents_at(s, 0)->evidence, "") == 0); /* NULL evidence */
    fl_incidents_set_max(s, 1);
    CHECK(fl_incidents_count(s) == 1 && fl_incidents_at(s, 0)->id == 4);

    /* a long timeline keeps its beginning and its latest entry */
    fl_incident_t *b = fl_incidents_get(s, 4);
    for (int i = 0; i < 100; i++)
        fl_incident_add(b, 2000 + i, "failure-again", "kill %d", i);
    CHECK(b->nentries == FL_INCIDENT_MAX_ENTRIES);
    CHECK(b->folded == 101 - FL_INCIDENT_MAX_ENTRIES);
    CHECK(strcmp(b->entries[0].what, "detected") == 0);
    CHECK(strcmp(b->entries[FL_INCIDENT_MAX_ENTRIES - 1].detail, "kill 99") == 0);
    fl_incident_add(NULL, 0, "x", "y"); /* no incident: nothing */
    fl_incident_close(NULL, 0, "x");

    fl_incidents_destroy(&s);
    CHECK(s == NULL);
    fl_incidents_destroy(&s);
    return check_done();
}
