"""The back end of the numbered notebooks: one module per notebook, named after it.

| notebook | module |
|---|---|
| ``00_setup`` | ``stages.setup`` |
| ``01_load_from_s3`` | ``stages.load_from_s3`` |
| ``02_glue_cleaning`` | ``stages.glue_cleaning`` |
| ``03_pii_check`` | ``stages.pii_check`` |
| ``04_train_dp_tvae`` | ``stages.train_dp_tvae`` |
| ``05_synthesize`` | ``stages.synthesize`` |
| ``06_evaluate`` | ``stages.evaluate`` |
| ``07_train_on_synthetic`` | ``stages.train_on_synthetic`` |

Each stage reads its input through the catalog by the table names of the dataset spec
(``dataset.Tables``), runs the domain modules (cleaning, pii, synth, evaluation, ...), writes
its outputs write-once under ``{prefix}/{stage}/{run-id}/`` and returns what it wrote, so the
notebook can show it and the tests can check it. Layers: storage and catalog at the bottom,
domain modules in the middle, stages on top; nothing below imports a stage.
"""
