from django.urls import path

from .apis import RewardListApi

urlpatterns = [
    path("bigcity/rewards", RewardListApi.as_view(), name="reward-list"),
]
