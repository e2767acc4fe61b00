#!/bin/bash
# bccd recipe exploration on the GPU, one run after another; a summary line after each.
common="experiment=recipes/bccd data.root=$PWD/gpudata/bccd data.num_workers=6 trainer=gpu extras.print_config=false"
i=0
while read -r label args; do
  dir=/tmp/runs/$i; i=$((i+1))
  start=$(date +%s)
  python3 train.py $common $args hydra.run.dir=$dir > $dir.log 2>&1 || tail -20 $dir.log
  echo "$label took $(( $(date +%s) - start )) s"
  python3 gpudata/summary.py $dir "$label $args" | tee -a $OUT/summary.jsonl
done <<'RUNS'
none5_s1 switch=none seed=1
auto5_s1 switch=auto_anchors seed=1
none10_s1 switch=none seed=1 trainer.max_epochs=10
auto10_s1 switch=auto_anchors seed=1 trainer.max_epochs=10
auto5_s2 switch=auto_anchors seed=2
none5_s2 switch=none seed=2
frozen10_s1 switch=frozen_norm seed=1 trainer.max_epochs=10
multiscale10_s1 switch=multi_scale seed=1 trainer.max_epochs=10
size512_s1 switch=none seed=1 data.image_size=512
RUNS
