/*
 * dag.h — the app's DAG: checking the spec, and turning its nodes and edges
 * into the config the runtime schedules from (children grouped by parent,
 * roots, each node's input parent) plus the host's topological order and
 * sinks. Cycles are found here.
 */
#ifndef ATARU_DAG_H
#define ATARU_DAG_H

#include "instance.h"

/* Checks counts, sizes, edges and offsets (BAD_SPEC with what is wrong). */
int ataru_dag_validate(const ataru_app_spec *s, ataru_error *err);
/* Fills cfg (roots, children, node offsets and parents) and inst's topo
 * and sinks; shm_size is the page-rounded shared region. */
int ataru_dag_build(struct ataru_instance *inst, const ataru_app_spec *s, struct ataru_config *cfg,
                    ataru_error *err);

#endif
