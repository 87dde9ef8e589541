"""llmobs.cli's process helpers."""

import subprocess
import sys
import time

import pytest

from llmobs.cli import process_cpu_seconds, stop_process


def test_a_process_cpu_time_counts_its_ended_threads_finer_than_clock_ticks():
    # a thread burns 0.3 s of CPU and ends; then the process sleeps
    program = (
        "import threading, time\n"
        "def burn():\n"
        "    t = time.thread_time()\n"
        "    while time.thread_time() - t < 0.3: pass\n"
        "th = threading.Thread(target=burn); th.start(); th.join()\n"
        "print('done', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "done\n"
        first = process_cpu_seconds(process.pid)
        assert 0.3 <= first < 5
        time.sleep(0.2)
        assert process_cpu_seconds(process.pid) - first < 0.05  # asleep: next to nothing more
        assert first != round(first, 2)  # nanoseconds, not the 10 ms ticks of /proc/PID/stat
    finally:
        stop_process(process)
    process.wait()
    with pytest.raises(ProcessLookupError):
        process_cpu_seconds(process.pid)
