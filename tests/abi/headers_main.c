/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Links the C translation units that each include one public header alone:
 * the test is that they compiled under -std=c99 -pedantic-errors.
 */
#include <stdio.h>

int main(void)
{
	puts("every public header compiles alone as C99");
	return 0;
}
