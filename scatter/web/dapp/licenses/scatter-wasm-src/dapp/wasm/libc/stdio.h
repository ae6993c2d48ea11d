/* Freestanding shim: fec.c includes <stdio.h> but calls nothing from it. */
