"""Plan documents (versioned, hashed, effective-dated data) and the pure evaluator of them.

The plan model and evaluator arrive with the commission engine; plan versions are already
recorded as ``PlanVersionPublished`` events and folded into ``Facts.plan_versions``.
"""
