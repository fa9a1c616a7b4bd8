// SPDX-License-Identifier: GPL-2.0

#include <linux/delay.h>
#include <linux/kernel.h>

void rust_helper_fsleep(unsigned long usecs)
{
	fsleep(usecs);
}

void rust_helper_might_sleep(void)
{
	might_sleep();
}
