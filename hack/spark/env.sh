#!/usr/bin/env bash
# Spark paths shared by hack/spark/*.sh and hack/bench/spark-vs-processor.sh.
# Sourced after hack/lib.sh. Everything lives in the version-keyed cache
# directory, outside the repository.
SPARK_CACHE="$CACHE_DIR/spark-$SPARK_VERSION"
SPARK_VENV="$SPARK_CACHE/venv"          # python3 venv with pyspark==$SPARK_VERSION
SPARK_PYTHON="$SPARK_VENV/bin/python"
SPARK_JARS_DIR="$SPARK_CACHE/jars"      # spark-sql-kafka-0-10 + what pyspark lacks
# Written last by build.sh, so an interrupted install never looks complete.
SPARK_VENV_DONE="$SPARK_VENV/.shopstream-complete"

spark_venv_present() { [[ -f "$SPARK_VENV_DONE" && -x "$SPARK_PYTHON" ]]; }
spark_jars_present() { [[ -f "$SPARK_JARS_DIR/spark-sql-kafka-0-10_2.12-$SPARK_VERSION.jar" ]]; }
