"""Activities that are classes: ``@activity.defn`` on a class whose ``__call__`` is the
activity, an instance (with its state) registered on the worker, and the class given to
``workflow.execute_activity_class`` / ``start_activity_class`` and their local variants."""

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    async def __call__(self, name: str) -> str:
        return f"{self.greeting}, {name} ({activity.info().activity_type})"


@activity.defn(name="shout")
class Shouter:
    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def __call__(self, word: str) -> str:
        return word.upper() + self.suffix


TIMEOUT = timedelta(seconds=10)


@workflow.defn
class UsesClasses:
    @workflow.run
    async def run(self) -> list[str]:
        out = [await workflow.execute_activity_class(Greeter, "ada",
                                                     start_to_close_timeout=TIMEOUT)]
        handle = workflow.start_activity_class(Shouter, "hey", start_to_close_timeout=TIMEOUT)
        out.append(await handle)
        out.append(await workflow.execute_local_activity_class(
            Greeter, "grace", start_to_close_timeout=TIMEOUT))
        out.append(await workflow.start_local_activity_class(
            Shouter, "ho", start_to_close_timeout=TIMEOUT))
        return out


WORKFLOWS = [UsesClasses]
ACTIVITIES = [Greeter("hello"), Shouter("!")]


async def run(client: object, task_queue: str) -> object:
    return await client.execute_workflow(  # type: ignore[attr-defined]
        UsesClasses.run, id=f"{task_queue}-wf", task_queue=task_queue)
