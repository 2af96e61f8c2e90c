"""The evaluation conditions, as eval_logs.csv's `condition` column and the analysis name them."""

BASE_CONDITIONS = ("base_zero_shot", "gold_pipeline", "samplegen_pipeline")   # the base model answers
TUNED_CONDITIONS = ("flan_direct", "samplegen_direct")                        # a LoRA-tuned model answers
CONDITIONS = BASE_CONDITIONS + TUNED_CONDITIONS
